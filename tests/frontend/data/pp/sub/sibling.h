typedef int FROM_SUB_FOLDER;
