#include "cvocab.h"
