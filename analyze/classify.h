/* classify — nearest-reference classification against a dictionary and
 * TimeSOAP.  API in analyze.h ("SOAP" section). */
#ifndef ANALYZE_CLASSIFY_H
#define ANALYZE_CLASSIFY_H

#include "analyze.h"

#endif
