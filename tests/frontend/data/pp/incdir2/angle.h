typedef int ANGLE_SECOND_DIR;
