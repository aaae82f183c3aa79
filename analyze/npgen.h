/* npgen — ideal nanoparticle generators (icosahedra, Marks/Ino decahedra,
 * truncated octahedra).  API in analyze.h ("SOAP" section). */
#ifndef ANALYZE_NPGEN_H
#define ANALYZE_NPGEN_H

#include "analyze.h"

#endif
