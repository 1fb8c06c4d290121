/* version.h -- the daemon's version; CMake passes the project version. */
#ifndef MCPD_VERSION_H
#define MCPD_VERSION_H

#ifndef MCPD_VERSION
#define MCPD_VERSION "0.1.0"
#endif

/* Where an installed mcpd looks for plugins when no directory is given. */
#ifndef MCPD_DEFAULT_PLUGIN_DIR
#define MCPD_DEFAULT_PLUGIN_DIR "/usr/lib/mcpd/plugins"
#endif

#endif
