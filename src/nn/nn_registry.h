/* nn: the registry table the build generates (see CMakeLists.txt, dc_registry). */
#ifndef DC_NN_REGISTRY_H
#define DC_NN_REGISTRY_H

#include "layer.h"

extern const dc_layer_type *const dc_nn_registry[];
extern const int dc_nn_registry_count;

#endif
