/* optim: the registry table the build generates (see CMakeLists.txt, dc_registry). */
#ifndef DC_OPTIM_REGISTRY_H
#define DC_OPTIM_REGISTRY_H

#include "optim.h"

extern const dc_optimizer_type *const dc_optim_registry[];
extern const int dc_optim_registry_count;

#endif
