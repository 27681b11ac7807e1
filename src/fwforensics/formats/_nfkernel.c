/* _nfkernel: the netfilter reader's inner loop in C.
 *
 * parse(offsets, data, n, first) reads n lines of an Arrow string array (int32 offsets
 * buffer, data buffer, array offset `first`) and, for each line it can read with
 * certainty, cuts out the same text groups the reader's regexes (_SPLIT, _HEAD and
 * _BODY in netfilter.py) would. A line it is not certain about (another wrapper, fields
 * out of the kernel's order, anything that would make a regex backtrack) is left to the
 * regex path: the kernel never guesses, so both paths give the same table.
 *
 * It accepts: optional <PRI>, BSD syslog "Mon dd hh:mm:ss[.frac] host kernel[N]: [uptime] "
 * then any prefix, then the record from IN= to the end in the kernel's field order.
 *
 * Returns (ok, n_ok, fields): ok is bytes, per line 1 (a record read here), 2 (not a record,
 * and one the regex path would skip as well: blank, or a syslog line of another program; see
 * skip_line) or 0 (left to the regex path); fields a list of (offsets int32 bytes, data bytes)
 * per group in FIELDS order, for the lines marked 1 only.
 * The parsing runs without the GIL, so blocks may be parsed on several threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <arpa/inet.h>
#include <sys/socket.h>
#define HAVE_INET6_TEXT 1
#endif

enum {
    F_IN_IF, F_OUT_IF, F_PHYSIN, F_PHYSOUT, F_MAC, F_MACSRC, F_MACDST, F_MACPROTO, F_SRC, F_DST,
    F_LEN, F_TOS, F_PREC, F_TTL, F_IPID, F_TC, F_HOPLIMIT, F_FLOWLBL, F_IPFLAGS, F_FRAG, F_IPOPT,
    F_PROTO, F_TINC, F_TSPT, F_TDPT, F_SEQ, F_ACK, F_WIN, F_RES, F_FLAGS, F_URGP, F_TCPOPT,
    F_UINC, F_USPT, F_UDPT, F_ULEN, F_IINC, F_ITYPE, F_ICODE, F_IID, F_ISEQ, F_IPARAM,
    F_IPOINTER, F_IGW, F_INNER, F_IMTU, F_SPI, F_UID, F_GID, F_MARK,
    H_PRI, H_MON, H_DAY, H_HMS, H_FRAC, H_HOST, H_TAG, H_UPTIME, H_PREFIX,
    H_TSRAW,  /* built, not cut out: "Mon d hh:mm:ss[.frac]" with one space between the parts, as
                 the reader joins them for ts_raw (the log may pad the day with a second space) */
    NF
};
static const char *FIELD_NAMES[NF] = {
    "in_if", "out_if", "physin", "physout", "mac", "macsrc", "macdst", "macproto", "src", "dst",
    "len", "tos", "prec", "ttl", "ipid", "tc", "hoplimit", "flowlbl", "ipflags", "frag", "ipopt",
    "proto", "tinc", "tspt", "tdpt", "seq", "ack", "win", "res", "flags", "urgp", "tcpopt",
    "uinc", "uspt", "udpt", "ulen", "iinc", "itype", "icode", "iid", "iseq", "iparam",
    "ipointer", "igw", "inner", "imtu", "spi", "uid", "gid", "mark",
    "h_pri", "h_mon", "h_day", "h_hms", "h_frac", "h_host", "h_tag", "h_uptime", "h_prefix", "h_tsraw"};

#define MAX_LINE 65536

typedef struct { int32_t st, ln; } span_t;

/* RE2's \s is [\t\n\f\r ]; everything else (\v and any non-ASCII byte included) is \S. */
static inline int is_sp(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
static inline int is_dig(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_hex(unsigned char c) { return is_dig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static inline int is_word(unsigned char c) { return is_dig(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

typedef struct { const char *b; int n; int i; } cur_t;

static inline int lit_n(cur_t *c, const char *t, int k) {
    if (c->i + k > c->n || memcmp(c->b + c->i, t, k) != 0) return 0;
    c->i += k;
    return 1;
}
static inline int peek_n(cur_t *c, const char *t, int k) {
    return c->i + k <= c->n && memcmp(c->b + c->i, t, k) == 0;
}
/* t: a string literal (its length is known when compiling) */
#define lit(c, t) lit_n((c), (t), (int)sizeof(t) - 1)
#define peek(c, t) peek_n((c), (t), (int)sizeof(t) - 1)
/* \S* (min 0) or \S+ (min 1) */
static inline int nonsp(cur_t *c, span_t *s, int min) {
    int st = c->i;
    while (c->i < c->n && !is_sp((unsigned char)c->b[c->i])) c->i++;
    if (c->i - st < min) { c->i = st; return 0; }
    if (s) { s->st = st; s->ln = c->i - st; }
    return 1;
}
static inline int digits(cur_t *c, span_t *s) {
    int st = c->i;
    while (c->i < c->n && is_dig((unsigned char)c->b[c->i])) c->i++;
    if (c->i == st) return 0;
    if (s) { s->st = st; s->ln = c->i - st; }
    return 1;
}
static inline int hexes(cur_t *c, span_t *s, int lo, int hi) {
    int st = c->i;
    while (c->i < c->n && is_hex((unsigned char)c->b[c->i]) && (hi <= 0 || c->i - st < hi)) c->i++;
    if (c->i - st < lo) { c->i = st; return 0; }
    if (s) { s->st = st; s->ln = c->i - st; }
    return 1;
}
/* "KEY=" digits followed by `end` (a literal), all or nothing */
static inline int kv_dig(cur_t *c, const char *key, span_t *s, const char *end) {
    int save = c->i;
    if (lit_n(c, key, (int)strlen(key)) && digits(c, s) && (end == NULL || lit_n(c, end, (int)strlen(end)))) return 1;
    c->i = save;
    return 0;
}
static inline void opt_space(cur_t *c) { if (c->i < c->n && c->b[c->i] == ' ') c->i++; }

/* ------------------------------------------------------------------ body (from IN=) */
/* TCP alternative of _BODY. 1 = matched (cursor moved), 0 = did not match (cursor kept). */
static int alt_tcp(cur_t *c, span_t *f) {
    int save = c->i;
    if (lit(c, "INCOMPLETE [") && digits(c, &f[F_TINC]) && lit(c, " bytes] ")) return 1;
    c->i = save; f[F_TINC].ln = 0;
    if (!(kv_dig(c, "SPT=", &f[F_TSPT], " ") && kv_dig(c, "DPT=", &f[F_TDPT], " "))) goto fail;
    {
        int s2 = c->i;
        if (!(kv_dig(c, "SEQ=", &f[F_SEQ], " ") && kv_dig(c, "ACK=", &f[F_ACK], " "))) {
            c->i = s2; f[F_SEQ].ln = f[F_ACK].ln = 0;
        }
    }
    if (!kv_dig(c, "WINDOW=", &f[F_WIN], " ")) goto fail;
    if (!(lit(c, "RES=0x") && hexes(c, &f[F_RES], 1, 0) && lit(c, " "))) goto fail;
    f[F_FLAGS].st = c->i;
    for (;;) {
        static const char *names[] = {"CWR ", "ECE ", "URG ", "ACK ", "PSH ", "RST ", "SYN ", "FIN "};
        int hit = 0;
        for (int k = 0; k < 8; k++) if (lit_n(c, names[k], 4)) { hit = 1; break; }
        if (!hit) break;
    }
    f[F_FLAGS].ln = c->i - f[F_FLAGS].st;
    if (!kv_dig(c, "URGP=", &f[F_URGP], NULL)) goto fail;
    opt_space(c);
    {
        int s3 = c->i;
        span_t o = {0, 0};
        if (lit(c, "OPT (") && (hexes(c, &o, 0, 0), 1) && lit(c, ")")) { f[F_TCPOPT] = o; opt_space(c); }
        else c->i = s3;
    }
    return 1;
fail:
    c->i = save;
    memset(&f[F_TINC], 0, sizeof(span_t) * (F_TCPOPT - F_TINC + 1));
    return 0;
}

static int alt_udp(cur_t *c, span_t *f) {
    int save = c->i;
    /* the INCOMPLETE form is taken by the TCP alternative first, as in the regex */
    if (kv_dig(c, "SPT=", &f[F_USPT], " ") && kv_dig(c, "DPT=", &f[F_UDPT], " ") && kv_dig(c, "LEN=", &f[F_ULEN], NULL)) {
        opt_space(c);
        return 1;
    }
    c->i = save;
    f[F_USPT].ln = f[F_UDPT].ln = f[F_ULEN].ln = 0;
    return 0;
}

static int alt_icmp(cur_t *c, span_t *f) {
    int save = c->i, s;
    if (!(kv_dig(c, "TYPE=", &f[F_ITYPE], " ") && kv_dig(c, "CODE=", &f[F_ICODE], " "))) {
        c->i = save; f[F_ITYPE].ln = f[F_ICODE].ln = 0;
        return 0;
    }
    s = c->i;
    if (!(lit(c, "INCOMPLETE [") && digits(c, NULL) && lit(c, " bytes] "))) c->i = s;
    s = c->i;
    if (!(kv_dig(c, "ID=", &f[F_IID], " ") && kv_dig(c, "SEQ=", &f[F_ISEQ], " "))) { c->i = s; f[F_IID].ln = f[F_ISEQ].ln = 0; }
    s = c->i;
    if (!kv_dig(c, "PARAMETER=", &f[F_IPARAM], " ")) {
        c->i = s; f[F_IPARAM].ln = 0;
        if (!(lit(c, "POINTER=") && hexes(c, &f[F_IPOINTER], 1, 0) && lit(c, " "))) { c->i = s; f[F_IPOINTER].ln = 0; }
    }
    s = c->i;
    if (!(lit(c, "GATEWAY=") && nonsp(c, &f[F_IGW], 1) && lit(c, " "))) { c->i = s; f[F_IGW].ln = 0; }
    s = c->i;
    if (lit(c, "[SRC=")) {
        /* (?:[^\[\]]|\[[^\[\]]*\])* then \] */
        int st = c->i - 4, ok = 0;
        while (c->i < c->n) {
            char ch = c->b[c->i];
            if (ch == ']') { ok = 1; break; }
            if (ch == '[') {
                int j = c->i + 1;
                while (j < c->n && c->b[j] != '[' && c->b[j] != ']') j++;
                if (j < c->n && c->b[j] == ']') { c->i = j + 1; continue; }
                break;
            }
            c->i++;
        }
        if (ok) { f[F_INNER].st = st; f[F_INNER].ln = c->i - st; c->i++; opt_space(c); }
        else { c->i = s; f[F_INNER].ln = 0; }
    }
    s = c->i;
    if (kv_dig(c, "MTU=", &f[F_IMTU], NULL)) opt_space(c);
    else { c->i = s; f[F_IMTU].ln = 0; }
    return 1;
}

/* the part after the transport group: (?:UID=\d+ GID=\d+ ?)?(?:MARK=\S+ ?)? *$ */
static int tail(cur_t *c, span_t *f) {
    int s = c->i;
    if (kv_dig(c, "UID=", &f[F_UID], " ") && kv_dig(c, "GID=", &f[F_GID], NULL)) opt_space(c);
    else { c->i = s; f[F_UID].ln = f[F_GID].ln = 0; }
    s = c->i;
    if (lit(c, "MARK=") && nonsp(c, &f[F_MARK], 1)) opt_space(c);
    else { c->i = s; f[F_MARK].ln = 0; }
    while (c->i < c->n && c->b[c->i] == ' ') c->i++;
    return c->i == c->n;
}

/* b: the body with a space appended (as the reader does); n includes it. */
static int parse_body(const char *b, int n, span_t *f) {
    cur_t cc = {b, n, 0}, *c = &cc;
    if (!lit(c, "IN=") || !nonsp(c, &f[F_IN_IF], 0) || !lit(c, " OUT=") || !nonsp(c, &f[F_OUT_IF], 0) || !lit(c, " "))
        return 0;
    { int s = c->i; if (!(lit(c, "PHYSIN=") && nonsp(c, &f[F_PHYSIN], 0) && lit(c, " "))) { c->i = s; f[F_PHYSIN].ln = 0; } }
    { int s = c->i; if (!(lit(c, "PHYSOUT=") && nonsp(c, &f[F_PHYSOUT], 0) && lit(c, " "))) { c->i = s; f[F_PHYSOUT].ln = 0; } }
    if (lit(c, "MAC=")) { nonsp(c, &f[F_MAC], 0); opt_space(c); }
    if (peek(c, "MACSRC=")) return 0;  /* bridged form: left to the regex */
    if (!(lit(c, "SRC=") && nonsp(c, &f[F_SRC], 1) && lit(c, " DST=") && nonsp(c, &f[F_DST], 1) && lit(c, " ")))
        return 0;
    if (!kv_dig(c, "LEN=", &f[F_LEN], " ")) return 0;
    if (lit(c, "TOS=")) {
        lit(c, "0x");
        if (!(hexes(c, &f[F_TOS], 1, 2) && lit(c, " PREC="))) return 0;
        lit(c, "0x");
        if (!(hexes(c, &f[F_PREC], 1, 2) && lit(c, " "))) return 0;
        if (!(kv_dig(c, "TTL=", &f[F_TTL], " ") && kv_dig(c, "ID=", &f[F_IPID], " "))) return 0;
    } else if (lit(c, "TC=")) {
        c->i -= 3;
        if (!(kv_dig(c, "TC=", &f[F_TC], " ") && kv_dig(c, "HOPLIMIT=", &f[F_HOPLIMIT], " ")
              && kv_dig(c, "FLOWLBL=", &f[F_FLOWLBL], " "))) return 0;
    } else return 0;
    f[F_IPFLAGS].st = c->i;
    while (lit(c, "CE ") || lit(c, "DF ") || lit(c, "MF ")) ;
    f[F_IPFLAGS].ln = c->i - f[F_IPFLAGS].st;
    { int s = c->i; if (!(lit(c, "FRAG:") && digits(c, &f[F_FRAG]) && lit(c, " "))) { c->i = s; f[F_FRAG].ln = 0; } }
    f[F_IPOPT].st = c->i;
    for (;;) {
        int s = c->i;
        if (!lit(c, "OPT (")) break;
        while (c->i < c->n && c->b[c->i] != '(' && c->b[c->i] != ')') c->i++;
        if (!lit(c, ")")) { c->i = s; break; }
        opt_space(c);
    }
    f[F_IPOPT].ln = c->i - f[F_IPOPT].st;
    if (!(lit(c, "PROTO=") && nonsp(c, &f[F_PROTO], 1))) return 0;
    opt_space(c);
    /* transport: the first alternative that reads must also let the tail read, else the
       regex would backtrack into the next one: leave such lines to it */
    int after = c->i;
    if (alt_tcp(c, f) || alt_udp(c, f) || alt_icmp(c, f)) return tail(c, f);
    c->i = after;
    if (lit(c, "SPI=0x")) {
        int st = c->i - 2;
        if (!hexes(c, NULL, 1, 0)) return 0;
        f[F_SPI].st = st; f[F_SPI].ln = c->i - st;
        opt_space(c);
        return tail(c, f);
    }
    return tail(c, f);
}

/* ------------------------------------------------------------------ head */
static const char *MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int parse_head(const char *b, int n, span_t *f) {
    cur_t cc = {b, n, 0}, *c = &cc;
    if (n > 0 && b[0] == '<') {
        c->i = 1;
        int st = 1;
        while (c->i < n && is_dig((unsigned char)b[c->i]) && c->i - st < 3) c->i++;
        if (c->i == st || c->i >= n || b[c->i] != '>') return 0;
        f[H_PRI].st = st; f[H_PRI].ln = c->i - st;
        c->i++;
    }
    if (c->i + 3 > n) return 0;
    int m = -1;
    for (int k = 0; k < 12; k++) if (memcmp(b + c->i, MONTHS[k], 3) == 0) { m = k; break; }
    if (m < 0) return 0;
    f[H_MON].st = c->i; f[H_MON].ln = 3; c->i += 3;
    if (!lit(c, " ")) return 0;
    while (c->i < n && b[c->i] == ' ') c->i++;
    {
        int st = c->i;
        while (c->i < n && is_dig((unsigned char)b[c->i]) && c->i - st < 2) c->i++;
        if (c->i == st) return 0;
        f[H_DAY].st = st; f[H_DAY].ln = c->i - st;
    }
    if (!lit(c, " ")) return 0;
    {
        int st = c->i;
        if (c->i + 8 > n) return 0;
        const char *t = b + c->i;
        if (!(is_dig(t[0]) && is_dig(t[1]) && t[2] == ':' && is_dig(t[3]) && is_dig(t[4]) && t[5] == ':' && is_dig(t[6]) && is_dig(t[7])))
            return 0;
        c->i += 8;
        f[H_HMS].st = st; f[H_HMS].ln = 8;
    }
    if (c->i < n && (b[c->i] == '.' || b[c->i] == ',')) {
        int st = c->i;
        c->i++;
        if (!digits(c, NULL)) return 0;
        f[H_FRAC].st = st; f[H_FRAC].ln = c->i - st;
    }
    /* " host " where host cannot be read as a year (4 digits) */
    if (!lit(c, " ")) return 0;
    {
        int st = c->i;
        while (c->i < n && !is_sp((unsigned char)b[c->i]) && b[c->i] != '[' && b[c->i] != ']' && b[c->i] != ':') c->i++;
        if (c->i == st || c->i >= n || b[c->i] != ' ') return 0;
        if (c->i - st >= 4 && is_dig(b[st]) && is_dig(b[st + 1]) && is_dig(b[st + 2]) && is_dig(b[st + 3])) return 0;
        f[H_HOST].st = st; f[H_HOST].ln = c->i - st;
    }
    while (c->i < n && b[c->i] == ' ') c->i++;
    /* the tag: kernel: or kernel[N]: and nothing that could be read as facility.level */
    {
        int st = c->i;
        if (!lit(c, "kernel")) return 0;
        if (c->i < n && b[c->i] == '[') {
            c->i++;
            if (!digits(c, NULL) || !lit(c, "]")) return 0;
        }
        if (!lit(c, ":")) return 0;
        f[H_TAG].st = st; f[H_TAG].ln = c->i - st;
        opt_space(c);
    }
    while (c->i < n && b[c->i] == ' ') c->i++;
    {
        int s = c->i;
        if (lit(c, "[")) {
            while (c->i < n && b[c->i] == ' ') c->i++;
            span_t u;
            int us = c->i;
            if (digits(c, NULL) && lit(c, ".") && digits(c, NULL)) {
                u.st = us; u.ln = c->i - us;
                if (lit(c, "]")) { f[H_UPTIME] = u; opt_space(c); }
                else c->i = s;
            } else c->i = s;
        }
    }
    f[H_PREFIX].st = c->i; f[H_PREFIX].ln = n - c->i;
    return 1;
}

/* _SPLIT: the first IN= at a word boundary followed by \S* " OUT=" \S* and then end or a space */
static int find_body(const char *s, int n) {
    for (int p = 0; p + 3 <= n; p++) {
        if (s[p] != 'I' || s[p + 1] != 'N' || s[p + 2] != '=') continue;
        if (p > 0 && is_word((unsigned char)s[p - 1])) continue;
        int i = p + 3;
        while (i < n && !is_sp((unsigned char)s[i])) i++;
        if (!(i + 5 <= n && memcmp(s + i, " OUT=", 5) == 0)) continue;
        i += 5;
        while (i < n && !is_sp((unsigned char)s[i])) i++;
        if (i == n || s[i] == ' ') return p;
    }
    return -1;
}

static int parse_line(const char *s, int n, span_t *f, char *buf) {
    if (n > MAX_LINE) return 0;
    /* anything below 0x20 other than tab (and DEL) is left to the regex path */
    int p = find_body(s, n);
    if (p < 0) return 0;
    memset(f, 0, sizeof(span_t) * NF);
    memcpy(buf, s + p, n - p);
    buf[n - p] = ' ';
    int bn = n - p;
    if (!parse_body(buf, bn + 1, f)) return 0;
    for (int k = 0; k < H_PRI; k++) {
        if (f[k].ln == 0) continue;
        if (f[k].st + f[k].ln > bn) return 0;  /* a group ending in the added space */
        f[k].st += p;
    }
    if (!parse_head(s, p, f)) return 0;
    return 1;
}

static int has(const char *s, int n, const char *t, int k) {
    for (int p = 0; p + k <= n; p++)
        if (s[p] == t[0] && memcmp(s + p, t, k) == 0) return 1;
    return 0;
}

static int month_at(cur_t *c) {
    static const char *M[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int k = 0; k < 12; k++) if (lit_n(c, M[k], 3)) return 1;
    return 0;
}

static int dd(cur_t *c, int k) {   /* exactly k digits */
    for (int j = 0; j < k; j++) if (c->i + j >= c->n || !is_dig((unsigned char)c->b[c->i + j])) return 0;
    c->i += k;
    return 1;
}

/* The reader's _SYSLOG_START: a line that starts like a syslog or kernel log line. */
static int syslog_start(const char *s, int n) {
    cur_t c = {s, n, 0};
    if (c.i < n && s[c.i] == '<') {
        c.i++;
        int st = c.i;
        while (c.i < n && is_dig((unsigned char)s[c.i]) && c.i - st < 3) c.i++;
        if (c.i == st || !lit(&c, ">")) return 0;
    }
    lit(&c, "1 ");
    int at = c.i;
    /* \d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d */
    if (dd(&c, 4) && lit(&c, "-") && dd(&c, 2) && lit(&c, "-") && dd(&c, 2) && (lit(&c, "T") || lit(&c, " "))
        && dd(&c, 2) && lit(&c, ":") && dd(&c, 2) && lit(&c, ":") && dd(&c, 2)) return 1;
    c.i = at;
    /* (Mon) +\d{1,2} \d\d:\d\d:\d\d */
    if (month_at(&c) && lit(&c, " ")) {
        while (lit(&c, " ")) ;
        int st = c.i;
        while (c.i < n && is_dig((unsigned char)s[c.i]) && c.i - st < 3) c.i++;
        if (c.i - st >= 1 && c.i - st <= 2 && lit(&c, " ") && dd(&c, 2) && lit(&c, ":") && dd(&c, 2)
            && lit(&c, ":") && dd(&c, 2)) return 1;
    }
    c.i = at;
    if (lit(&c, "[")) {
        static const char *D[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
        int b = c.i;
        for (int k = 0; k < 7; k++) { c.i = b; if (lit_n(&c, D[k], 3) && lit(&c, " ")) return 1; }
        c.i = b;   /* \[ *\d+\.\d+\] */
        while (lit(&c, " ")) ;
        if (!digits(&c, NULL) || !lit(&c, ".") || !digits(&c, NULL) || !lit(&c, "]")) return 0;
        return 1;
    }
    return 0;
}

/* A line the regex path would count as skipped, known for certain: no "IN=" and no "PROTO="
 * anywhere (so neither _SPLIT nor _PARTIAL can match), and either blank (\s* only) or, without
 * both "SRC=" and "DST=", starting like a syslog line (another program's message). */
static int skip_line(const char *s, int n) {
    if (n > MAX_LINE) return 0;
    int blank = 1;
    for (int i = 0; i < n && blank; i++) if (!is_sp((unsigned char)s[i])) blank = 0;
    if (blank) return 1;
    if (has(s, n, "IN=", 3) || has(s, n, "PROTO=", 6)) return 0;
    if (has(s, n, "SRC=", 4) && has(s, n, "DST=", 4)) return 0;
    return syslog_start(s, n);
}

/* ------------------------------------------------------------------ module */
static PyObject *nf_parse(PyObject *self, PyObject *args) {
    Py_buffer ob, db;
    Py_ssize_t n, first;
    if (!PyArg_ParseTuple(args, "y*y*nn", &ob, &db, &n, &first)) return NULL;
    PyObject *result = NULL, *okb = NULL, *fields = NULL;
    span_t *spans = NULL;
    char *buf = NULL;
    const int32_t *off = (const int32_t *)ob.buf;
    const char *data = (const char *)db.buf;
    if (n < 0 || first < 0 || (Py_ssize_t)((first + n + 1) * sizeof(int32_t)) > ob.len) {
        PyErr_SetString(PyExc_ValueError, "offsets buffer too short");
        goto done;
    }
    okb = PyBytes_FromStringAndSize(NULL, n);
    spans = (span_t *)malloc(sizeof(span_t) * NF * (n ? n : 1));
    buf = (char *)malloc(MAX_LINE + 2);
    if (!okb || !spans || !buf) { PyErr_NoMemory(); goto done; }
    char *ok = PyBytes_AS_STRING(okb);
    Py_ssize_t nok = 0;
    int64_t total[NF];
    memset(total, 0, sizeof(total));
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t a = off[first + i], z = off[first + i + 1];
        if (a < 0 || z < a || z > db.len) { bad = 1; break; }
        span_t *f = spans + NF * nok;
        ok[i] = (char)parse_line(data + a, z - a, f, buf);
        if (!ok[i]) { if (skip_line(data + a, z - a)) ok[i] = 2; continue; }
        {
            for (int k = 0; k < NF; k++) { if (f[k].ln) f[k].st += a; total[k] += f[k].ln; }
            f[H_TSRAW].ln = f[H_MON].ln + 1 + f[H_DAY].ln + 1 + f[H_HMS].ln + f[H_FRAC].ln;
            total[H_TSRAW] += f[H_TSRAW].ln;
            nok++;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad) { PyErr_SetString(PyExc_ValueError, "bad offsets"); goto done; }
    fields = PyList_New(NF);
    if (!fields) goto done;
    for (int k = 0; k < NF; k++) {
        if (total[k] > INT32_MAX) { PyErr_SetString(PyExc_OverflowError, "block too large"); goto done; }
        PyObject *o = PyBytes_FromStringAndSize(NULL, (nok + 1) * sizeof(int32_t));
        PyObject *d = PyBytes_FromStringAndSize(NULL, total[k]);
        if (!o || !d) { Py_XDECREF(o); Py_XDECREF(d); goto done; }
        PyList_SET_ITEM(fields, k, Py_BuildValue("(NN)", o, d));
    }
    {
        char *outs[NF];
        int32_t *offs[NF];
        for (int k = 0; k < NF; k++) {
            PyObject *t = PyList_GET_ITEM(fields, k);
            offs[k] = (int32_t *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 0));
            outs[k] = PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 1));
        }
        Py_BEGIN_ALLOW_THREADS
        /* row by row (the spans are stored so), every field's next value; a field empty on every
           row of the block (most of them in most logs) only gets its offsets, all zero */
        int32_t pos[NF];
        int used[NF], nused = 0;
        for (int k = 0; k < NF; k++) {
            pos[k] = 0;
            offs[k][0] = 0;
            if (k < H_TSRAW && total[k]) used[nused++] = k;
            else if (k < H_TSRAW) memset(offs[k], 0, (nok + 1) * sizeof(int32_t));
        }
        for (Py_ssize_t r = 0; r < nok; r++) {
            const span_t *f = spans + NF * r;
            for (int j = 0; j < nused; j++) {
                int k = used[j];
                if (f[k].ln) { memcpy(outs[k] + pos[k], data + f[k].st, f[k].ln); pos[k] += f[k].ln; }
                offs[k][r + 1] = pos[k];
            }
            {
                char *o = outs[H_TSRAW] + pos[H_TSRAW];
                memcpy(o, data + f[H_MON].st, f[H_MON].ln); o += f[H_MON].ln;
                *o++ = ' ';
                memcpy(o, data + f[H_DAY].st, f[H_DAY].ln); o += f[H_DAY].ln;
                *o++ = ' ';
                memcpy(o, data + f[H_HMS].st, f[H_HMS].ln); o += f[H_HMS].ln;
                if (f[H_FRAC].ln) memcpy(o, data + f[H_FRAC].st, f[H_FRAC].ln);
                pos[H_TSRAW] += f[H_TSRAW].ln;
                offs[H_TSRAW][r + 1] = pos[H_TSRAW];
            }
        }
        Py_END_ALLOW_THREADS
    }
    result = Py_BuildValue("(OnO)", okb, nok, fields);
done:
    Py_XDECREF(okb);
    Py_XDECREF(fields);
    free(spans);
    free(buf);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    return result;
}

/* v4_mask(offsets, data, n, first) -> bytes: 1 where the string is an IPv4 address in the form
 * ipaddress prints (four decimal numbers 0-255 without leading zeros, dots between, nothing
 * else): the check canonical_ips makes with a regex, without one. */
static inline int canon_v4(const unsigned char *s, int32_t n) {
    int32_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || s[i] != '.') return 0;
            i++;
        }
        int32_t st = i;
        int v = 0;
        while (i < n && is_dig(s[i]) && i - st < 3) { v = v * 10 + (s[i] - '0'); i++; }
        if (i == st || v > 255 || (i - st > 1 && s[st] == '0')) return 0;
    }
    return i == n;
}

static PyObject *nf_v4_mask(PyObject *self, PyObject *args) {
    Py_buffer ob, db;
    Py_ssize_t n, first;
    if (!PyArg_ParseTuple(args, "y*y*nn", &ob, &db, &n, &first)) return NULL;
    PyObject *out = NULL;
    const int32_t *off = (const int32_t *)ob.buf;
    const unsigned char *data = (const unsigned char *)db.buf;
    if (n < 0 || first < 0 || (Py_ssize_t)((first + n + 1) * sizeof(int32_t)) > ob.len) {
        PyErr_SetString(PyExc_ValueError, "offsets buffer too short");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) goto done;
    char *m = PyBytes_AS_STRING(out);
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t a = off[first + i], z = off[first + i + 1];
        if (a < 0 || z < a || z > db.len) { bad = 1; break; }
        m[i] = (char)canon_v4(data + a, z - a);
    }
    Py_END_ALLOW_THREADS
    if (bad) { Py_CLEAR(out); PyErr_SetString(PyExc_ValueError, "bad offsets"); }
done:
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    return out;
}

#ifdef HAVE_INET6_TEXT
/* canon_ips(offsets, data, n, first) -> (status bytes, offsets bytes, data bytes): addresses in
 * the text _common.canonical_ip gives, where this is certain. Per entry, status 1: the output
 * holds it (an IPv4 address already as ipaddress prints it, copied; or a plain IPv6 address,
 * brackets stripped, as the C library prints it, which is ipaddress's text when it has no dot);
 * 0: not an address (a plain IPv6 form the C library refuses); 2: left to canonical_ip (anything
 * else: dotted IPv6 forms, zones, other text, NUL bytes, long entries). Output text for 0 and 2
 * is empty. */
static PyObject *nf_canon_ips(PyObject *self, PyObject *args) {
    Py_buffer ob, db;
    Py_ssize_t n, first;
    if (!PyArg_ParseTuple(args, "y*y*nn", &ob, &db, &n, &first)) return NULL;
    PyObject *st = NULL, *oo = NULL, *od = NULL, *result = NULL;
    const int32_t *off = (const int32_t *)ob.buf;
    const unsigned char *data = (const unsigned char *)db.buf;
    if (n < 0 || first < 0 || (Py_ssize_t)((first + n + 1) * sizeof(int32_t)) > ob.len) {
        PyErr_SetString(PyExc_ValueError, "offsets buffer too short");
        goto done;
    }
    /* an output is never longer than its input (IPv4 copied, IPv6 at most 39 characters and only
       taken from an input that inet_pton accepted, which is at least as long: "::" forms aside,
       bound the data by the input's size plus 40 bytes per entry) */
    Py_ssize_t cap = (Py_ssize_t)(off[first + n] - off[first]) + 40 * (n + 1);
    st = PyBytes_FromStringAndSize(NULL, n);
    oo = PyBytes_FromStringAndSize(NULL, (n + 1) * sizeof(int32_t));
    char *tmp = (char *)malloc(cap > 0 ? cap : 1);
    if (!st || !oo || !tmp) { free(tmp); PyErr_NoMemory(); goto done; }
    char *s = PyBytes_AS_STRING(st);
    int32_t *o = (int32_t *)PyBytes_AS_STRING(oo);
    int bad = 0;
    Py_ssize_t pos = 0;
    Py_BEGIN_ALLOW_THREADS
    o[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t a = off[first + i], z = off[first + i + 1];
        if (a < 0 || z < a || z > db.len) { bad = 1; break; }
        const unsigned char *v = data + a;
        int32_t len = z - a;
        s[i] = 2;
        if (canon_v4(v, len)) {
            memcpy(tmp + pos, v, len);
            pos += len;
            s[i] = 1;
        } else if (len <= 64) {
            int32_t b = 0, e = len;
            while (b < e && (v[b] == '[' || v[b] == ']')) b++;
            while (e > b && (v[e - 1] == '[' || v[e - 1] == ']')) e--;
            int colon = 0, other = 0;
            for (int32_t k = b; k < e; k++) {
                if (v[k] == ':') colon = 1;
                else if (v[k] == '%' || v[k] == '.' || v[k] == 0) other = 1;
            }
            if (colon && !other) {
                char in[72], text[64];
                unsigned char bin[16];
                memcpy(in, v + b, e - b);
                in[e - b] = 0;
                if (inet_pton(AF_INET6, in, bin) != 1) {
                    s[i] = 0;
                } else if (inet_ntop(AF_INET6, bin, text, sizeof(text)) && !strchr(text, '.')) {
                    size_t tl = strlen(text);
                    memcpy(tmp + pos, text, tl);
                    pos += (Py_ssize_t)tl;
                    s[i] = 1;
                }
            }
        }
        o[i + 1] = (int32_t)pos;
    }
    Py_END_ALLOW_THREADS
    if (bad) { free(tmp); PyErr_SetString(PyExc_ValueError, "bad offsets"); goto done; }
    od = PyBytes_FromStringAndSize(tmp, pos);
    free(tmp);
    if (!od) goto done;
    result = Py_BuildValue("(OOO)", st, oo, od);
done:
    Py_XDECREF(st);
    Py_XDECREF(oo);
    Py_XDECREF(od);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    return result;
}
#endif

static PyMethodDef methods[] = {
    {"parse", nf_parse, METH_VARARGS,
     "parse(offsets, data, n, first) -> (ok bytes (1 read, 2 skipped, 0 not read), n_ok, [(offsets, data)] per FIELDS entry)"},
    {"v4_mask", nf_v4_mask, METH_VARARGS,
     "v4_mask(offsets, data, n, first) -> bytes, 1 per canonical dotted-quad IPv4 string"},
#ifdef HAVE_INET6_TEXT
    {"canon_ips", nf_canon_ips, METH_VARARGS,
     "canon_ips(offsets, data, n, first) -> (status bytes (1 out, 0 null, 2 undecided), offsets, data)"},
#endif
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_nfkernel", "netfilter reader kernel", -1, methods};

PyMODINIT_FUNC PyInit__nfkernel(void) {
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    PyObject *names = PyTuple_New(NF);
    for (int k = 0; k < NF; k++) PyTuple_SET_ITEM(names, k, PyUnicode_FromString(FIELD_NAMES[k]));
    PyModule_AddObject(m, "FIELDS", names);
    PyModule_AddIntConstant(m, "MAX_LINE", MAX_LINE);
    return m;
}
