/* soap — the SOAP power spectrum exactly as DScribe 2.1.1 computes it (GTO
 * radial basis, one species, non-periodic).  The public API is declared in
 * analyze.h ("SOAP" section); this header only re-exports it for the module. */
#ifndef ANALYZE_SOAP_H
#define ANALYZE_SOAP_H

#include "analyze.h"

#endif
