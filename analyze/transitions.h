/* transitions — transition counts, row-normalised probabilities, lifetimes
 * and populations of classified trajectories.  API in analyze.h ("SOAP" section). */
#ifndef ANALYZE_TRANSITIONS_H
#define ANALYZE_TRANSITIONS_H

#include "analyze.h"

#endif
