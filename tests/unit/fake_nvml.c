/* fake_nvml.c — a stand-in for libnvidia-ml.so with two GPUs, built beside the unit tests
 * (build/tests/libfake-nvml.so) so test_collect drives the gpu collector's NVML path without a
 * GPU. The second GPU reports no ECC counts and no power draw, as some cards do. The first
 * keeps 512 MiB reserved by the driver: v1's used counts it, v2's does not (as on an H200). */
#include <stdio.h>
#include <string.h>

#define NOT_SUPPORTED 3

struct utilization {
    unsigned int gpu, memory;
};
struct memory {
    unsigned long long total, free, used;
};

static int devices[2] = {0, 1};
static int initialised;

static int which(void *device)
{
    return *(int *)device;
}

int nvmlInit_v2(void)
{
    initialised++;
    return 0;
}

int nvmlShutdown(void)
{
    initialised--;
    return 0;
}

int nvmlDeviceGetCount_v2(unsigned int *count)
{
    *count = 2;
    return initialised > 0 ? 0 : 1;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **device)
{
    if (index > 1)
        return 2;
    *device = &devices[index];
    return 0;
}

int nvmlDeviceGetUUID(void *device, char *uuid, unsigned int len)
{
    snprintf(uuid, len, "GPU-%d0000000-aaaa-bbbb-cccc-dddddddddddd", which(device));
    return 0;
}

int nvmlDeviceGetName(void *device, char *name, unsigned int len)
{
    snprintf(name, len, "%s", which(device) ? "NVIDIA L4" : "NVIDIA H100 80GB HBM3");
    return 0;
}

int nvmlDeviceGetUtilizationRates(void *device, struct utilization *u)
{
    u->gpu = which(device) ? 7 : 93;
    u->memory = which(device) ? 1 : 41;
    return 0;
}

#define RESERVED(device) ((which(device) ? 0ULL : 512ULL) << 20)

int nvmlDeviceGetMemoryInfo(void *device, struct memory *m)
{
    m->total = 81559ULL << 20;
    m->used = ((which(device) ? 0ULL : 40000ULL) << 20) + RESERVED(device);
    m->free = m->total - m->used;
    return 0;
}

struct memory_v2 {
    unsigned int version;
    unsigned long long total, reserved, free, used;
};

int nvmlDeviceGetMemoryInfo_v2(void *device, struct memory_v2 *m)
{
    if (m->version != (unsigned int)(sizeof *m | (2u << 24)))
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    m->total = 81559ULL << 20;
    m->reserved = RESERVED(device);
    m->used = (which(device) ? 0ULL : 40000ULL) << 20;
    m->free = m->total - m->reserved - m->used;
    return 0;
}

int nvmlDeviceGetTemperature(void *device, int sensor, unsigned int *t)
{
    *t = which(device) ? 35 : 71;
    return sensor == 0 ? 0 : NOT_SUPPORTED;
}

int nvmlDeviceGetPowerUsage(void *device, unsigned int *mw)
{
    *mw = 612345;
    return which(device) ? NOT_SUPPORTED : 0;
}

int nvmlDeviceGetClockInfo(void *device, int type, unsigned int *mhz)
{
    *mhz = type == 1 ? 1980 : type == 2 ? 2619 : 0;
    return type == 1 || type == 2 ? 0 : NOT_SUPPORTED;
}

int nvmlDeviceGetTotalEccErrors(void *device, int error_type, int counter_type,
                                unsigned long long *count)
{
    *count = error_type == 0 ? 12 : 1;
    return which(device) || counter_type != 1 ? NOT_SUPPORTED : 0;
}

int nvmlDeviceGetCurrentClocksThrottleReasons(void *device, unsigned long long *reasons)
{
    *reasons = which(device) ? 0 : 0x40; /* HW thermal slowdown */
    return 0;
}
