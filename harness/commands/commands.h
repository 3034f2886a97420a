/* commands.h: the revbench subcommands, one file each (cmd_<name>.c). Each takes the
 * arguments after its name (argv[0] is the subcommand name) and returns an exit status. */
#ifndef RB_COMMANDS_H
#define RB_COMMANDS_H

#include "common/exit_status.h"

int rb_cmd_bench(int argc, char **argv);
int rb_cmd_info(int argc, char **argv);
int rb_cmd_mem(int argc, char **argv);
int rb_cmd_angle(int argc, char **argv);
int rb_cmd_train(int argc, char **argv);

int rb_cmd_run(int argc, char **argv);
int rb_cmd_report(int argc, char **argv);
int rb_cmd_merge(int argc, char **argv);
int rb_cmd_export(int argc, char **argv);
int rb_cmd_import(int argc, char **argv);

#endif
