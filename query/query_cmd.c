/* query_cmd.c - "pcapdex query" (placeholder until the query front end lands). */
#include "../cli/cli.h"

int pdx_cmd_query(int argc, char **argv)
{
    pdx_cli_error("not implemented yet");
    return PDX_EXIT_USAGE;
}
