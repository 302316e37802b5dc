/* optim: the schedule registry table the build generates (see CMakeLists.txt, dc_registry). */
#ifndef DC_SCHEDULE_REGISTRY_H
#define DC_SCHEDULE_REGISTRY_H

#include "optim.h"

extern const dc_schedule_type *const dc_schedule_registry[];
extern const int dc_schedule_registry_count;

#endif
