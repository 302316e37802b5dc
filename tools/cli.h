/* The command-line program's subcommands, one file each under tools/; deepc.c dispatches. Each
 * takes the arguments after its name (argv[0] is the subcommand) and returns the exit status:
 * 0 success, 1 failure (one "deepc: ..." line on stderr), 2 wrong usage. */
#ifndef DEEPC_TOOLS_CLI_H
#define DEEPC_TOOLS_CLI_H

#include <stdbool.h>

/* --quiet: only results (key=value lines) and errors are printed. */
extern bool dc_cli_quiet;

/* Prints "deepc: <what>: <the library's last message>" (what once, when the message already
 * begins with it) or, with msg, "deepc: <what>: <msg>"; returns 1. */
int dc_cli_fail(const char *what, const char *msg);

/* deepc train CONFIG [--epochs N] [--out DIR] and deepc summary CONFIG (tools/train.c). */
int dc_cli_train(int argc, char **argv);
int dc_cli_summary(int argc, char **argv);

/* deepc layers [TYPE] [--markdown]: the layer types of the registry, their options, kinds,
 * bounds and defaults (tools/layers.c; --markdown prints docs/layers.md). */
int dc_cli_layers(int argc, char **argv);

#endif
