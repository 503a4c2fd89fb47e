/* dns_answer.c — reading a DNS response (RFC 1035): the records of one type in the answer
 * section, as text, for the dns probe type's [DNS_ANSWER]. Pure (no I/O); names are expanded by
 * c-ares (ares_expand_name). See probe_internal.h; fuzz/fuzz_probe_output.c feeds it anything. */
#include "probe/probe_internal.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DNS_TEXT_MAX 1024

static unsigned be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static unsigned long be32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

/* A name at p inside the packet into out; the bytes it takes there in *used. false if bad. */
static bool read_name(const unsigned char *p, const unsigned char *abuf, int alen, char *out,
                      size_t cap, long *used)
{
    char *name = NULL;
    if (ares_expand_name(p, abuf, alen, &name, used) != ARES_SUCCESS)
        return false;
    snprintf(out, cap, "%s", name);
    ares_free_string(name);
    return true;
}

/* One record's data as text; false when it does not hold what its type says. */
static bool rdata_text(int type, const unsigned char *rd, unsigned rdlen, const unsigned char *abuf,
                       int alen, char *out, size_t cap)
{
    long used;
    char a[DNS_TEXT_MAX], b[DNS_TEXT_MAX];
    switch (type) {
    case ns_t_a:
        return rdlen == 4 && inet_ntop(AF_INET, rd, out, (socklen_t)cap);
    case ns_t_aaaa:
        return rdlen == 16 && inet_ntop(AF_INET6, rd, out, (socklen_t)cap);
    case ns_t_cname:
    case ns_t_ns:
    case ns_t_ptr:
        return read_name(rd, abuf, alen, out, cap, &used);
    case ns_t_mx:
        if (rdlen < 3 || !read_name(rd + 2, abuf, alen, a, sizeof a, &used))
            return false;
        snprintf(out, cap, "%u %.1000s", be16(rd), a);
        return true;
    case ns_t_txt: {
        size_t n = 0;
        for (unsigned i = 0; i < rdlen;) {
            unsigned len = rd[i++];
            if (i + len > rdlen)
                return false;
            for (unsigned k = 0; k < len && n + 1 < cap; k++)
                out[n++] = (char)rd[i + k];
            i += len;
        }
        out[n] = '\0';
        return true;
    }
    case ns_t_soa: {
        long used2;
        if (!read_name(rd, abuf, alen, a, sizeof a, &used) || rd + used >= abuf + alen ||
            !read_name(rd + used, abuf, alen, b, sizeof b, &used2) ||
            (unsigned long)(used + used2 + 20) > rdlen)
            return false;
        const unsigned char *n = rd + used + used2;
        snprintf(out, cap, "%.400s %.400s %lu %lu %lu %lu %lu", a, b, be32(n), be32(n + 4),
                 be32(n + 8), be32(n + 12), be32(n + 16));
        return true;
    }
    default:
        return false;
    }
}

int probe_dns_parse_answers(const unsigned char *abuf, int alen, int qtype, char **texts, int max)
{
    if (alen < NS_HFIXEDSZ)
        return -1;
    unsigned qd = be16(abuf + 4), an = be16(abuf + 6);
    const unsigned char *p = abuf + NS_HFIXEDSZ, *end = abuf + alen;
    char name[DNS_TEXT_MAX];
    long used;
    for (unsigned i = 0; i < qd; i++) {
        if (!read_name(p, abuf, alen, name, sizeof name, &used) || p + used + 4 > end)
            return -1;
        p += used + 4;
    }
    int n = 0;
    for (unsigned i = 0; i < an; i++) {
        if (!read_name(p, abuf, alen, name, sizeof name, &used) || p + used + 10 > end)
            goto malformed;
        p += used;
        int type = (int)be16(p);
        unsigned rdlen = be16(p + 8);
        p += 10;
        if (p + rdlen > end)
            goto malformed;
        char text[DNS_TEXT_MAX];
        if (type == qtype && n < max && rdata_text(type, p, rdlen, abuf, alen, text, sizeof text))
            if ((texts[n] = strdup(text)))
                n++;
        p += rdlen;
    }
    return n;
malformed:
    while (n > 0)
        free(texts[--n]);
    return -1;
}
