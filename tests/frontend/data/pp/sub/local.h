#include "sibling.h"
typedef int LOCAL;
