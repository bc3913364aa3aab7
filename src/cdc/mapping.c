/*
 * This file implements mappings: parsing and validating a mapping's JSON
 * definition (with one {"field","message"} error per problem, for the 400
 * answer of the API), writing it back in canonical form, and evaluating it
 * against one row change: table, operation, watched columns, the `when`
 * filter, then the payload projection. The rules are documented in
 * docs/cdc.md ("Mappings").
 */
#include "cdc/cdc_internal.h"
#include "registry/registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ============================================================= errors */

static void add_error(json_t *errors, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Cuts a string that snprintf may have cut inside a UTF-8 character. */
static void utf8_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && !rt_utf8_valid(s, n))
        s[--n] = '\0';
}

static void add_error(json_t *errors, const char *field, const char *fmt, ...)
{
    if (!errors)
        return;
    char msg[256], name[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(name, sizeof(name), "%s", field);
    utf8_trim(msg);
    utf8_trim(name);
    json_t *e = json_pack("{s:s, s:s}", "field", name, "message", msg);
    rt_assert(e != NULL);
    json_array_append_new(errors, e);
}

/* ============================================================== names */

/* Mapping and source names: [A-Za-z0-9_.-], starting with a letter or digit. */
static int name_valid(const char *s, size_t n)
{
    if (n == 0 || n > RT_CDC_MAPPING_NAME_MAX_BYTES || s[0] == '.' || s[0] == '-' || s[0] == '_')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* One part of "schema.table": "quoted" (quotes doubled inside) or bare up
 * to the next '.'. Returns the part (caller frees with rt_free()) or NULL. */
static char *table_part(const char *s, size_t n, size_t *i)
{
    rt_buf_t b;
    rt_buf_init(&b);
    if (*i < n && s[*i] == '"') {
        for ((*i)++;; (*i)++) {
            if (*i >= n)
                goto bad;
            if (s[*i] == '"') {
                if (*i + 1 < n && s[*i + 1] == '"') {
                    (*i)++;
                } else {
                    (*i)++;
                    break;
                }
            }
            rt_buf_append(&b, s + *i, 1);
        }
    } else {
        for (; *i < n && s[*i] != '.'; (*i)++) {
            if (s[*i] == '"')
                goto bad;
            rt_buf_append(&b, s + *i, 1);
        }
    }
    if (b.len == 0 || b.len > RT_CDC_NAME_MAX_BYTES)
        goto bad;
    return rt_buf_steal(&b, NULL);
bad:
    rt_buf_close(&b);
    return NULL;
}

/* "schema.table" or "table" (schema public). 0 or RT_EINVAL. */
static int parse_table(const char *s, size_t n, char **schema, char **table)
{
    size_t i = 0;
    char *a = table_part(s, n, &i);
    if (!a)
        return RT_EINVAL;
    if (i == n) {
        *schema = rt_strdup("public");
        *table = a;
        return 0;
    }
    char *b = NULL;
    if (s[i] == '.') {
        i++;
        b = table_part(s, n, &i);
    }
    if (!b || i != n) {
        rt_free(a);
        rt_free(b);
        return RT_EINVAL;
    }
    *schema = a;
    *table = b;
    return 0;
}

/* Appends a table name part, quoted when it would not read back bare. */
static void append_part(rt_buf_t *b, const char *s)
{
    if (!strchr(s, '.') && !strchr(s, '"')) {
        rt_buf_append_str(b, s);
        return;
    }
    rt_buf_append(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            rt_buf_append(b, "\"", 1);
        rt_buf_append(b, s, 1);
    }
    rt_buf_append(b, "\"", 1);
}

/* ============================================================ payload */

/* A payload source string: 'literal' (quotes doubled inside), *, new.*,
 * old.*, col, new.col or old.col. */
static const char *source_problem(const char *s, size_t n)
{
    if (n > 0 && s[0] == '\'') {
        if (n < 2 || s[n - 1] != '\'')
            return "unterminated string literal";
        for (size_t i = 1; i + 1 < n; i++) {
            if (s[i] != '\'')
                continue;
            if (i + 2 >= n || s[i + 1] != '\'')
                return "a quote inside a string literal must be doubled";
            i++;
        }
        return NULL;
    }
    if (n >= 4 && (strncmp(s, "new.", 4) == 0 || strncmp(s, "old.", 4) == 0)) {
        s += 4;
        n -= 4;
    }
    if (n == 0)
        return "expected a column name";
    if (n > RT_CDC_NAME_MAX_BYTES)
        return "column name too long";
    return NULL;
}

static void check_payload(const json_t *obj, int depth, size_t *count, const char *path,
                          json_t *errors, int *bad)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        char field[192];
        snprintf(field, sizeof(field), "%s.%s", path, key);
        if (++*count > RT_CDC_PAYLOAD_MAX_FIELDS) {
            add_error(errors, "payload", "more than %d fields", RT_CDC_PAYLOAD_MAX_FIELDS);
            *bad = 1;
            return;
        }
        if (key[0] == '\0') {
            add_error(errors, field, "field names must not be empty");
            *bad = 1;
        } else if (json_is_string(val)) {
            const char *problem = source_problem(json_string_value(val), json_string_length(val));
            if (problem) {
                add_error(errors, field, "%s", problem);
                *bad = 1;
            }
        } else if (json_is_object(val)) {
            if (depth >= RT_CDC_PAYLOAD_MAX_DEPTH) {
                add_error(errors, field, "nested deeper than %d levels", RT_CDC_PAYLOAD_MAX_DEPTH);
                *bad = 1;
            } else {
                check_payload(val, depth + 1, count, field, errors, bad);
            }
        }
    }
}

/* =========================================================== fields */

static const char *const known_fields[] = {"name", "source",  "table", "operations", "watchColumns",
                                           "when", "payload", "topic", "description"};

static int check_unknown(const json_t *spec, json_t *errors)
{
    int bad = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)spec, key, val)
    {
        size_t k = 0;
        while (k < RT_ARRAY_LEN(known_fields) && strcmp(known_fields[k], key) != 0)
            k++;
        if (k == RT_ARRAY_LEN(known_fields)) {
            add_error(errors, key, "unknown field");
            bad = 1;
        }
    }
    return bad;
}

/* A required or optional string field; *out is a copy or NULL when absent. */
static int get_string(const json_t *spec, const char *field, int required, char **out,
                      json_t *errors)
{
    const json_t *v = json_object_get(spec, field);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        add_error(errors, field, "is required");
        return RT_EINVAL;
    }
    if (!json_is_string(v)) {
        add_error(errors, field, "must be a string");
        return RT_EINVAL;
    }
    *out = rt_strndup(json_string_value(v), json_string_length(v));
    if (strlen(*out) != json_string_length(v)) {
        add_error(errors, field, "must not contain NUL characters");
        return RT_EINVAL;
    }
    return 0;
}

static int parse_ops(const json_t *spec, rt_cdc_mapping_t *m, json_t *errors)
{
    const json_t *v = json_object_get(spec, "operations");
    if (!v || json_is_null(v)) {
        m->ops = RT_CDC_OP_INSERT | RT_CDC_OP_UPDATE | RT_CDC_OP_DELETE;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        add_error(errors, "operations", "must be a non-empty array of insert, update, delete");
        return RT_EINVAL;
    }
    size_t i;
    json_t *op;
    json_array_foreach(v, i, op)
    {
        unsigned bit = rt_cdc_op_parse(json_string_value(op));
        if (!bit || (m->ops & bit)) {
            add_error(errors, "operations",
                      bit ? "lists an operation twice"
                          : "must contain only insert, update, delete");
            return RT_EINVAL;
        }
        m->ops |= bit;
    }
    return 0;
}

static int parse_watch(const json_t *spec, rt_cdc_mapping_t *m, json_t *errors)
{
    const json_t *v = json_object_get(spec, "watchColumns");
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > RT_CDC_MAPPING_MAX_WATCH) {
        add_error(errors, "watchColumns", "must be an array of at most %d column names",
                  RT_CDC_MAPPING_MAX_WATCH);
        return RT_EINVAL;
    }
    m->watch = rt_calloc(json_array_size(v) + 1, sizeof(char *));
    size_t i;
    json_t *col;
    json_array_foreach(v, i, col)
    {
        size_t n = json_string_length(col);
        if (!json_is_string(col) || n == 0 || n > RT_CDC_NAME_MAX_BYTES ||
            strlen(json_string_value(col)) != n) {
            add_error(errors, "watchColumns", "entry %zu must be a column name of 1 to %d bytes", i,
                      RT_CDC_NAME_MAX_BYTES);
            return RT_EINVAL;
        }
        m->watch[m->nwatch++] = rt_strdup(json_string_value(col));
    }
    return 0;
}

static int parse_when(const json_t *spec, rt_cdc_mapping_t *m, json_t *errors)
{
    if (get_string(spec, "when", 0, &m->when_src, errors) < 0)
        return RT_EINVAL;
    if (!m->when_src)
        return 0;
    char err[RT_CDC_WHEN_ERR_BYTES];
    if (rt_cdc_when_compile(m->when_src, strlen(m->when_src), &m->when, err, sizeof(err)) < 0) {
        add_error(errors, "when", "%s", err);
        return RT_EINVAL;
    }
    return 0;
}

static int parse_payload(const json_t *spec, rt_cdc_mapping_t *m, json_t *errors)
{
    const json_t *v = json_object_get(spec, "payload");
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        add_error(errors, "payload", "must be an object of field names to columns");
        return RT_EINVAL;
    }
    size_t count = 0;
    int bad = 0;
    check_payload(v, 1, &count, "payload", errors, &bad);
    if (bad)
        return RT_EINVAL;
    m->payload = json_deep_copy(v);
    return 0;
}

static int parse_names(const json_t *spec, rt_cdc_mapping_t *m, json_t *errors)
{
    int rc = 0;
    if (get_string(spec, "name", 1, &m->name, errors) < 0)
        rc = RT_EINVAL;
    else if (!name_valid(m->name, strlen(m->name))) {
        add_error(errors, "name",
                  "must be 1 to %d bytes of [A-Za-z0-9_.-], starting with a "
                  "letter or digit",
                  RT_CDC_MAPPING_NAME_MAX_BYTES);
        rc = RT_EINVAL;
    }
    if (get_string(spec, "source", 1, &m->source, errors) < 0)
        rc = RT_EINVAL;
    else if (!name_valid(m->source, strlen(m->source))) {
        add_error(errors, "source", "must name a source");
        rc = RT_EINVAL;
    }
    if (get_string(spec, "topic", 1, &m->topic, errors) < 0)
        rc = RT_EINVAL;
    else if (!rt_registry_topic_name_valid(m->topic, strlen(m->topic))) {
        add_error(errors, "topic", "must be lowercase dot-separated segments of [a-z0-9_-]");
        rc = RT_EINVAL;
    }
    if (get_string(spec, "description", 0, &m->description, errors) < 0)
        rc = RT_EINVAL;
    else if (m->description && strlen(m->description) > RT_CDC_DESCRIPTION_MAX_BYTES) {
        add_error(errors, "description", "longer than %d bytes", RT_CDC_DESCRIPTION_MAX_BYTES);
        rc = RT_EINVAL;
    }
    return rc;
}

static int parse_table_field(const json_t *spec, rt_cdc_mapping_t *m, json_t *errors)
{
    char *t;
    if (get_string(spec, "table", 1, &t, errors) < 0) {
        rt_free(t);
        return RT_EINVAL;
    }
    int rc = parse_table(t, strlen(t), &m->schema, &m->table);
    rt_free(t);
    if (rc < 0) {
        add_error(errors, "table",
                  "must be \"schema.table\" (names of 1 to %d bytes; "
                  "double-quote a name containing '.')",
                  RT_CDC_NAME_MAX_BYTES);
        return RT_EINVAL;
    }
    m->qualified = rt_malloc(strlen(m->schema) + strlen(m->table) + 2);
    memcpy(m->qualified, m->schema, strlen(m->schema));
    m->qualified[strlen(m->schema)] = '.';
    memcpy(m->qualified + strlen(m->schema) + 1, m->table, strlen(m->table) + 1);
    return 0;
}

int rt_cdc_mapping_parse(const json_t *spec, rt_cdc_mapping_t **out, json_t *errors)
{
    if (!json_is_object(spec)) {
        add_error(errors, "", "a mapping must be a JSON object");
        return RT_EINVAL;
    }
    rt_cdc_mapping_t *m = rt_calloc(1, sizeof(*m));
    int bad = check_unknown(spec, errors);
    bad |= parse_names(spec, m, errors) < 0;
    bad |= parse_table_field(spec, m, errors) < 0;
    bad |= parse_ops(spec, m, errors) < 0;
    bad |= parse_watch(spec, m, errors) < 0;
    bad |= parse_when(spec, m, errors) < 0;
    bad |= parse_payload(spec, m, errors) < 0;
    if (bad) {
        rt_cdc_mapping_free(m);
        return RT_EINVAL;
    }
    *out = m;
    return 0;
}

void rt_cdc_mapping_free(rt_cdc_mapping_t *m)
{
    if (!m)
        return;
    rt_free(m->name);
    rt_free(m->source);
    rt_free(m->schema);
    rt_free(m->table);
    rt_free(m->qualified);
    for (size_t i = 0; i < m->nwatch; i++)
        rt_free(m->watch[i]);
    rt_free(m->watch);
    rt_free(m->when_src);
    rt_cdc_when_free(m->when);
    json_decref(m->payload);
    rt_free(m->topic);
    rt_free(m->description);
    rt_free(m);
}

/* ========================================================= write back */

static json_t *ops_json(unsigned ops)
{
    json_t *a = json_array();
    if (ops & RT_CDC_OP_INSERT)
        json_array_append_new(a, json_string("insert"));
    if (ops & RT_CDC_OP_UPDATE)
        json_array_append_new(a, json_string("update"));
    if (ops & RT_CDC_OP_DELETE)
        json_array_append_new(a, json_string("delete"));
    return a;
}

static json_t *opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *rt_cdc_mapping_to_json(const rt_cdc_mapping_t *m)
{
    rt_buf_t t;
    rt_buf_init(&t);
    append_part(&t, m->schema);
    rt_buf_append(&t, ".", 1);
    append_part(&t, m->table);
    json_t *watch = json_array();
    for (size_t i = 0; i < m->nwatch; i++)
        json_array_append_new(watch, json_string(m->watch[i]));
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:o}", "name", m->name,
                          "source", m->source, "table", t.data, "operations", ops_json(m->ops),
                          "watchColumns", watch, "when", opt_string(m->when_src), "payload",
                          m->payload ? json_deep_copy(m->payload) : json_null(), "topic", m->topic,
                          "description", opt_string(m->description));
    rt_buf_close(&t);
    rt_assert(j != NULL);
    return j;
}

/* Whether any payload source reads old.* */
static int payload_reads_old(const json_t *obj)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        if (json_is_string(val) && strncmp(json_string_value(val), "old.", 4) == 0)
            return 1;
        if (json_is_object(val) && payload_reads_old(val))
            return 1;
    }
    return 0;
}

int rt_cdc_mapping_needs_old(const rt_cdc_mapping_t *m)
{
    if (m->nwatch > 0 || (m->payload && payload_reads_old(m->payload)))
        return 1;
    size_t n = m->when ? rt_cdc_when_ncolumns(m->when) : 0;
    for (size_t i = 0; i < n; i++) {
        unsigned flags;
        rt_cdc_when_column(m->when, i, &flags);
        if (flags & (RT_CDC_WHEN_REF_OLD | RT_CDC_WHEN_REF_CHANGED))
            return 1;
    }
    return 0;
}

/* ========================================================= evaluation */

/* The value of a 'literal' source, quotes undoubled. */
static json_t *literal_json(const char *s, size_t n)
{
    rt_buf_t b;
    rt_buf_init(&b);
    for (size_t i = 1; i + 1 < n; i++) {
        rt_buf_append(&b, s + i, 1);
        if (s[i] == '\'')
            i++;
    }
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    rt_buf_close(&b);
    return j;
}

/* A copy of a row object (values shared), or {} without a row. */
static json_t *row_copy(const json_t *row)
{
    return json_is_object(row) ? json_copy((json_t *)row) : json_object();
}

/* The value a source string names, or NULL when the row lacks it. */
static json_t *source_value(const char *s, size_t n, const rt_cdc_change_t *c, int is_delete)
{
    if (n > 0 && s[0] == '\'')
        return literal_json(s, n);
    const json_t *row = is_delete ? c->old_row : c->new_row;
    if (n >= 4 && strncmp(s, "new.", 4) == 0) {
        row = c->new_row;
        s += 4;
        n -= 4;
    } else if (n >= 4 && strncmp(s, "old.", 4) == 0) {
        row = c->old_row;
        s += 4;
        n -= 4;
    }
    if (n == 1 && s[0] == '*')
        return row ? row_copy(row) : NULL;
    json_t *v = json_is_object(row) ? json_object_getn(row, s, n) : NULL;
    return v ? json_incref(v) : NULL;
}

static json_t *project(const json_t *spec, const rt_cdc_change_t *c, int is_delete)
{
    json_t *out = json_object();
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)spec, key, val)
    {
        json_t *v;
        if (json_is_string(val))
            v = source_value(json_string_value(val), json_string_length(val), c, is_delete);
        else if (json_is_object(val))
            v = project(val, c, is_delete);
        else
            v = json_incref(val);
        if (v)
            json_object_set_new(out, key, v); /* absent columns are left out */
    }
    return out;
}

static json_t *make_meta(const rt_cdc_mapping_t *m, const rt_cdc_change_t *c)
{
    json_t *meta =
        json_pack("{s:s, s:s, s:s}", "table", m->qualified, "op", c->op, "mapping", m->name);
    if (json_is_array(c->unchanged) && json_array_size(c->unchanged) > 0)
        json_object_set_new(meta, "unchangedColumns", json_copy((json_t *)c->unchanged));
    return meta;
}

/* Whether an update changed one of the watched columns. */
static int watched_changed(const rt_cdc_mapping_t *m, const rt_cdc_change_t *c)
{
    for (size_t i = 0; i < m->nwatch; i++)
        if (rt_cdc_changed(c->new_row, c->old_row, c->op, m->watch[i]))
            return 1;
    return 0;
}

int rt_cdc_mapping_eval(const rt_cdc_mapping_t *m, const rt_cdc_change_t *c, json_t **payload,
                        json_t **meta, const char **reason)
{
    unsigned op = rt_cdc_op_parse(c->op);
    if (!op)
        return RT_EINVAL;
    if (c->schema && c->table &&
        (strcmp(c->schema, m->schema) != 0 || strcmp(c->table, m->table) != 0)) {
        *reason = "table not mapped";
        return 0;
    }
    if (!(m->ops & op)) {
        *reason = "operation not mapped";
        return 0;
    }
    if (op == RT_CDC_OP_UPDATE && m->nwatch > 0 && !watched_changed(m, c)) {
        *reason = "no watched column changed";
        return 0;
    }
    if (m->when && !rt_cdc_when_eval(m->when, c->new_row, c->old_row, c->op)) {
        *reason = "when evaluated to false";
        return 0;
    }
    int is_delete = op == RT_CDC_OP_DELETE;
    *payload = m->payload ? project(m->payload, c, is_delete)
                          : row_copy(is_delete ? c->old_row : c->new_row);
    *meta = make_meta(m, c);
    return 1;
}
