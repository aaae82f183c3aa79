/* dict — SOAP environment dictionaries: the project's file format, the SOAP
 * distance and complete-linkage clustering.  API in analyze.h ("SOAP" section). */
#ifndef ANALYZE_DICT_H
#define ANALYZE_DICT_H

#include "analyze.h"

#endif
