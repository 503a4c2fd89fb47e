/* gpu.c — the "gpu" collector: per NVIDIA GPU, utilisation, memory, temperature, power, clocks,
 * ECC errors and clocks-throttle reasons under dcgm-exporter's names (DCGM_FI_DEV_*, labels gpu,
 * UUID, device, modelName), plus faultline_gpus for the heartbeat. Asks NVML (loaded at run
 * time, never linked, so the binary runs where no driver is installed), else parses
 * `nvidia-smi --query-gpu`, else reports 0 GPUs: a machine without a GPU is normal. */
#include "collect/collect.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPU_TIMEOUT_MS 10000
#define GPU_SMI_OUTPUT_CAP 65536
#define GPU_MAX 64

/* What one GPU reports; has_* is false where the GPU or driver does not say. */
struct gpu_reading {
    char index[12];
    char uuid[96];
    char name[96];
    double util, mem_util, fb_used_mib, fb_free_mib, fb_total_mib, temp_c, power_w, sm_mhz, mem_mhz,
        ecc_sbe, ecc_dbe, throttle;
    bool has_util, has_mem_util, has_fb, has_temp, has_power, has_sm, has_mem_clock, has_ecc,
        has_throttle;
};

static const char *gpu_setting(const char *value, const char *env, const char *fallback)
{
    const char *e = getenv(env);
    return value ? value : e && *e ? e : fallback;
}

static void gpu_add(struct metric_list *out, const struct gpu_reading *g, const char *name,
                    const char *help, const char *type, bool has, double value)
{
    if (!has)
        return;
    char device[24];
    snprintf(device, sizeof device, "nvidia%s", g->index);
    metric_list_add(out, name, help, type, value, 4, "gpu", g->index, "UUID", g->uuid, "device",
                    device, "modelName", g->name);
}

static void gpu_emit(struct metric_list *out, const struct gpu_reading *g)
{
    gpu_add(out, g, "DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", "gauge", g->has_util,
            g->util);
    gpu_add(out, g, "DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).", "gauge",
            g->has_mem_util, g->mem_util);
    gpu_add(out, g, "DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", "gauge", g->has_fb,
            g->fb_used_mib);
    gpu_add(out, g, "DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", "gauge", g->has_fb,
            g->fb_free_mib);
    gpu_add(out, g, "DCGM_FI_DEV_FB_TOTAL", "Framebuffer memory total (in MiB).", "gauge",
            g->has_fb, g->fb_total_mib);
    gpu_add(out, g, "DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", "gauge", g->has_temp,
            g->temp_c);
    gpu_add(out, g, "DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", "gauge", g->has_power,
            g->power_w);
    gpu_add(out, g, "DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", "gauge", g->has_sm,
            g->sm_mhz);
    gpu_add(out, g, "DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).", "gauge",
            g->has_mem_clock, g->mem_mhz);
    gpu_add(out, g, "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", "Total single-bit persistent ECC errors.",
            "counter", g->has_ecc, g->ecc_sbe);
    gpu_add(out, g, "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", "Total double-bit persistent ECC errors.",
            "counter", g->has_ecc, g->ecc_dbe);
    gpu_add(out, g, "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
            "Current clock throttle reasons (bitmask of NVML's nvmlClocksThrottleReasons).",
            "gauge", g->has_throttle, g->throttle);
}

static void gpu_emit_count(struct metric_list *out, int gpus, const char *source)
{
    metric_list_add(out, "faultline_gpus",
                    "NVIDIA GPUs on this machine, and what counted them (nvml, nvidia-smi, none, or "
                    "failed when nvidia-smi failed or hung).",
                    "gauge", gpus, 1, "source", source);
}

/* ---- NVML ------------------------------------------------------------------------------------ */

typedef void *nvml_device;
struct nvml_utilization {
    unsigned int gpu, memory;
};
struct nvml_memory {
    unsigned long long total, free, used;
};
/* nvmlMemory_v2_t: `used` leaves out what the driver reserves, as nvidia-smi and dcgm-exporter
 * report it (v1's used counts the reserve: ~600 MiB more on an idle H200). */
struct nvml_memory_v2 {
    unsigned int version;
    unsigned long long total, reserved, free, used;
};
#define NVML_MEMORY_V2_VERSION ((unsigned int)(sizeof(struct nvml_memory_v2) | (2u << 24)))

/* The NVML entry points used; any but the first four may be missing (older drivers). */
struct nvml {
    int (*init)(void);
    int (*shutdown)(void);
    int (*count)(unsigned int *);
    int (*handle)(unsigned int, nvml_device *);
    int (*uuid)(nvml_device, char *, unsigned int);
    int (*name)(nvml_device, char *, unsigned int);
    int (*utilization)(nvml_device, struct nvml_utilization *);
    int (*memory)(nvml_device, struct nvml_memory *);
    int (*memory_v2)(nvml_device, struct nvml_memory_v2 *); /* drivers since 510 */
    int (*temperature)(nvml_device, int, unsigned int *);
    int (*power)(nvml_device, unsigned int *);
    int (*clock)(nvml_device, int, unsigned int *);
    int (*ecc)(nvml_device, int, int, unsigned long long *);
    int (*throttle)(nvml_device, unsigned long long *);
};

#define NVML_SUCCESS 0
#define NVML_TEMPERATURE_GPU 0
#define NVML_CLOCK_SM 1
#define NVML_CLOCK_MEM 2
#define NVML_ECC_CORRECTED 0
#define NVML_ECC_UNCORRECTED 1
#define NVML_ECC_AGGREGATE 1

static void *gpu_sym(void *h, const char *name)
{
    return dlsym(h, name);
}

static void gpu_nvml_bind(void *h, struct nvml *n)
{
    /* POSIX guarantees that a dlsym result converts to a function pointer. */
    *(void **)&n->init = gpu_sym(h, "nvmlInit_v2");
    *(void **)&n->shutdown = gpu_sym(h, "nvmlShutdown");
    *(void **)&n->count = gpu_sym(h, "nvmlDeviceGetCount_v2");
    *(void **)&n->handle = gpu_sym(h, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&n->uuid = gpu_sym(h, "nvmlDeviceGetUUID");
    *(void **)&n->name = gpu_sym(h, "nvmlDeviceGetName");
    *(void **)&n->utilization = gpu_sym(h, "nvmlDeviceGetUtilizationRates");
    *(void **)&n->memory = gpu_sym(h, "nvmlDeviceGetMemoryInfo");
    *(void **)&n->memory_v2 = gpu_sym(h, "nvmlDeviceGetMemoryInfo_v2");
    *(void **)&n->temperature = gpu_sym(h, "nvmlDeviceGetTemperature");
    *(void **)&n->power = gpu_sym(h, "nvmlDeviceGetPowerUsage");
    *(void **)&n->clock = gpu_sym(h, "nvmlDeviceGetClockInfo");
    *(void **)&n->ecc = gpu_sym(h, "nvmlDeviceGetTotalEccErrors");
    *(void **)&n->throttle = gpu_sym(h, "nvmlDeviceGetCurrentClocksThrottleReasons");
}

/* Framebuffer memory, from v2 where the driver has it (used without the reserve), else v1. */
static void gpu_nvml_memory(const struct nvml *n, nvml_device d, struct gpu_reading *g)
{
    struct nvml_memory_v2 m2 = {.version = NVML_MEMORY_V2_VERSION};
    struct nvml_memory m;
    if (n->memory_v2 && n->memory_v2(d, &m2) == NVML_SUCCESS) {
        m = (struct nvml_memory){.total = m2.total, .free = m2.free, .used = m2.used};
    } else if (!n->memory || n->memory(d, &m) != NVML_SUCCESS) {
        g->has_fb = false;
        return;
    }
    g->has_fb = true;
    g->fb_used_mib = (double)(m.used >> 20);
    g->fb_free_mib = (double)(m.free >> 20);
    g->fb_total_mib = (double)(m.total >> 20);
}

static void gpu_nvml_read(const struct nvml *n, unsigned int i, nvml_device d,
                          struct gpu_reading *g)
{
    snprintf(g->index, sizeof g->index, "%u", i);
    if (!n->uuid || n->uuid(d, g->uuid, sizeof g->uuid) != NVML_SUCCESS)
        g->uuid[0] = '\0';
    if (!n->name || n->name(d, g->name, sizeof g->name) != NVML_SUCCESS)
        g->name[0] = '\0';
    struct nvml_utilization u;
    if ((g->has_util = n->utilization && n->utilization(d, &u) == NVML_SUCCESS)) {
        g->has_mem_util = true;
        g->util = u.gpu;
        g->mem_util = u.memory;
    }
    gpu_nvml_memory(n, d, g);
    unsigned int v;
    if ((g->has_temp = n->temperature && n->temperature(d, NVML_TEMPERATURE_GPU, &v) == 0))
        g->temp_c = v;
    if ((g->has_power = n->power && n->power(d, &v) == NVML_SUCCESS))
        g->power_w = v / 1000.0; /* NVML says milliwatts */
    if ((g->has_sm = n->clock && n->clock(d, NVML_CLOCK_SM, &v) == NVML_SUCCESS))
        g->sm_mhz = v;
    if ((g->has_mem_clock = n->clock && n->clock(d, NVML_CLOCK_MEM, &v) == NVML_SUCCESS))
        g->mem_mhz = v;
    unsigned long long sbe, dbe, reasons;
    if ((g->has_ecc = n->ecc &&
                      n->ecc(d, NVML_ECC_CORRECTED, NVML_ECC_AGGREGATE, &sbe) == NVML_SUCCESS &&
                      n->ecc(d, NVML_ECC_UNCORRECTED, NVML_ECC_AGGREGATE, &dbe) == NVML_SUCCESS)) {
        g->ecc_sbe = (double)sbe;
        g->ecc_dbe = (double)dbe;
    }
    if ((g->has_throttle = n->throttle && n->throttle(d, &reasons) == NVML_SUCCESS))
        g->throttle = (double)reasons;
}

/* NVML stays loaded and initialised between walks (nvmlInit takes up to a second on a machine
 * without persistence mode); it is dropped after a failure, so the next walk loads it again.
 * The lock makes the gpu collector safe to call from any thread. */
static pthread_mutex_t gpu_nvml_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *handle; /* NULL: not loaded */
    char path[4096];
    struct nvml api;
} gpu_nvml;

static void gpu_nvml_drop(void)
{
    if (!gpu_nvml.handle)
        return;
    gpu_nvml.api.shutdown();
    dlclose(gpu_nvml.handle);
    gpu_nvml.handle = NULL;
}

/* Loads and initialises lib unless it already is. Returns 0, or -1 when it is missing or fails. */
static int gpu_nvml_ready(const char *lib)
{
    if (gpu_nvml.handle && strcmp(gpu_nvml.path, lib) == 0)
        return 0;
    gpu_nvml_drop();
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return -1;
    struct nvml n = {0};
    gpu_nvml_bind(h, &n);
    if (!n.init || !n.shutdown || !n.count || !n.handle || n.init() != NVML_SUCCESS) {
        dlclose(h);
        return -1;
    }
    gpu_nvml.handle = h;
    gpu_nvml.api = n;
    snprintf(gpu_nvml.path, sizeof gpu_nvml.path, "%s", lib);
    return 0;
}

/* Returns 0 and appends every GPU NVML lists, or -1 when NVML is missing or fails. */
static int gpu_collect_nvml(const char *lib, struct metric_list *out)
{
    pthread_mutex_lock(&gpu_nvml_lock);
    unsigned int count = 0;
    int rc = gpu_nvml_ready(lib);
    const struct nvml *n = &gpu_nvml.api;
    if (rc == 0 && n->count(&count) != NVML_SUCCESS) {
        gpu_nvml_drop();
        rc = -1;
    }
    for (unsigned int i = 0; rc == 0 && i < count && i < GPU_MAX; i++) {
        nvml_device d = NULL;
        struct gpu_reading g = {0};
        if (n->handle(i, &d) != NVML_SUCCESS)
            continue;
        gpu_nvml_read(n, i, d, &g);
        gpu_emit(out, &g);
    }
    if (rc == 0)
        gpu_emit_count(out, (int)count, "nvml");
    pthread_mutex_unlock(&gpu_nvml_lock);
    return rc;
}

/* ---- nvidia-smi -------------------------------------------------------------------------------
 */

#define GPU_SMI_FIELDS                                                                             \
    "index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.free,memory.total,"     \
    "temperature.gpu,power.draw,clocks.sm,clocks.mem,ecc.errors.corrected.aggregate.total,"        \
    "ecc.errors.uncorrected.aggregate.total,clocks_throttle_reasons.active"
#define GPU_SMI_FIELD_COUNT 15

/* A field's number; false for "[N/A]", "[Not Supported]" and other non-numbers. */
static bool gpu_smi_number(const char *text, double *v)
{
    char *end;
    *v = text[0] == '0' && text[1] == 'x' ? (double)strtoull(text, &end, 16) : strtod(text, &end);
    return end != text && *end == '\0';
}

/* One CSV line of GPU_SMI_FIELDS (", " between fields, no units). Returns false when it does not
 * have them all. */
static bool gpu_smi_line(char *line, struct gpu_reading *g)
{
    char *f[GPU_SMI_FIELD_COUNT];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(line, ",", &save); t && n < GPU_SMI_FIELD_COUNT;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t len = strlen(t);
        while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\r'))
            t[--len] = '\0';
        f[n++] = t;
    }
    if (n != GPU_SMI_FIELD_COUNT)
        return false;
    snprintf(g->index, sizeof g->index, "%s", f[0]);
    snprintf(g->uuid, sizeof g->uuid, "%s", f[1]);
    snprintf(g->name, sizeof g->name, "%s", f[2]);
    g->has_util = gpu_smi_number(f[3], &g->util);
    g->has_mem_util = gpu_smi_number(f[4], &g->mem_util);
    g->has_fb = gpu_smi_number(f[5], &g->fb_used_mib) && gpu_smi_number(f[6], &g->fb_free_mib) &&
                gpu_smi_number(f[7], &g->fb_total_mib);
    g->has_temp = gpu_smi_number(f[8], &g->temp_c);
    g->has_power = gpu_smi_number(f[9], &g->power_w);
    g->has_sm = gpu_smi_number(f[10], &g->sm_mhz);
    g->has_mem_clock = gpu_smi_number(f[11], &g->mem_mhz);
    g->has_ecc = gpu_smi_number(f[12], &g->ecc_sbe) && gpu_smi_number(f[13], &g->ecc_dbe);
    g->has_throttle = gpu_smi_number(f[14], &g->throttle);
    return true;
}

int collect_gpu_smi_parse(char *text, struct metric_list *out)
{
    int gpus = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && gpus < GPU_MAX;
         line = strtok_r(NULL, "\n", &save)) {
        struct gpu_reading g = {0};
        if (!gpu_smi_line(line, &g))
            continue;
        gpu_emit(out, &g);
        gpus++;
    }
    return gpus;
}

/* Appends the GPUs `smi --query-gpu` lists. A missing binary is no GPUs and not an error; a
 * failing or hanging one is no GPUs and -1 with the reason in err. */
static int gpu_collect_smi(const char *smi, const atomic_bool *cancel, int timeout_ms,
                           struct metric_list *out, char *err, size_t errlen)
{
    char *argv[] = {(char *)smi, "--query-gpu=" GPU_SMI_FIELDS, "--format=csv,noheader,nounits",
                    NULL};
    char *text = NULL;
    size_t len = 0;
    int rc =
        collect_run(argv, timeout_ms, cancel, GPU_SMI_OUTPUT_CAP, &text, &len, err, errlen);
    int gpus = rc == 0 ? collect_gpu_smi_parse(text, out) : 0;
    free(text);
    gpu_emit_count(out, gpus, rc < 0 ? "failed" : gpus > 0 ? "nvidia-smi" : "none");
    return rc < 0 ? -1 : 0;
}

static int gpu_collect(struct metric_list *out, const struct collect_options *opts, char *err,
                       size_t errlen)
{
    const char *lib = gpu_setting(opts->nvml_library, "FAULTLINE_NVML_LIB", "libnvidia-ml.so.1");
    if (gpu_collect_nvml(lib, out) == 0)
        return 0;
    const char *smi = gpu_setting(opts->nvidia_smi, "FAULTLINE_NVIDIA_SMI", "nvidia-smi");
    int timeout_ms = opts->command_timeout_ms > 0 ? opts->command_timeout_ms : GPU_TIMEOUT_MS;
    return gpu_collect_smi(smi, opts->cancel, timeout_ms, out, err, errlen);
}

const struct collector collect_gpu = {"gpu", gpu_collect, GPU_TIMEOUT_MS};
