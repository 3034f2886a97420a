/* PLACEHOLDER: being written. */
#include "memory.h"
