/* telegram.c — placeholder. */
#include "alert/telegram.h"
int telegram_main(int argc, char **argv) { (void)argc; (void)argv; return 2; }
