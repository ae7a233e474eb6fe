#ifndef TESSERA_CSQLITE_SHIM_H
#define TESSERA_CSQLITE_SHIM_H

// The platform's SQLite 3 (Debian: libsqlite3-dev); imported by TesseraStore only.
#include <sqlite3.h>

#endif
