typedef int FROM_INCLUDE_DIR;
