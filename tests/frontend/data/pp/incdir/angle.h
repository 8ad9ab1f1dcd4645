typedef int ANGLE_FIRST_DIR;
