// handler/metrics.hpp is aliases over core/metrics (the registry and its exposition live there).
// This file only checks that the header compiles on its own; it stays in handler/meson.build's
// source list so that the list other branches edit does not change here.
#include "handler/metrics.hpp"
