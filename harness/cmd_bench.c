/* PLACEHOLDER: being written. */
#include "commands.h"
#include "cli.h"
int rv_cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    rv_cli_error("bench", "not yet implemented");
    return RV_EXIT_FAIL;
}
