#pragma once
/*
 * A plain C view of toml++ (C++17): parse a TOML document, then walk its tables, arrays and
 * values generically. Every node carries the line and column where it starts in the source.
 *
 * Handles: a `ctoml_document` owns the parsed tree; `ctoml_node` pointers point into it and stay
 * valid until `ctoml_document_free`. Tables list their keys in toml++'s order (sorted by key).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ctoml_document ctoml_document;
typedef struct ctoml_node ctoml_node;

/** A node's type. */
typedef enum ctoml_type {
    CTOML_TABLE = 1,
    CTOML_ARRAY = 2,
    CTOML_STRING = 3,
    CTOML_INTEGER = 4,
    CTOML_FLOAT = 5,
    CTOML_BOOLEAN = 6,
    CTOML_DATE = 7,       /* local date */
    CTOML_TIME = 8,       /* local time */
    CTOML_DATE_TIME = 9,  /* local or offset date-time (see has_offset) */
} ctoml_type;

/** A 1-based line and column in the source (0 when toml++ recorded none). */
typedef struct ctoml_position {
    uint32_t line;
    uint32_t column;
} ctoml_position;

/** A date, time or date-time; the parts a type lacks are zero, and the has_ flags say which are there. */
typedef struct ctoml_datetime {
    bool has_date;
    bool has_time;
    bool has_offset;
    int32_t year;
    int32_t month;
    int32_t day;
    int32_t hour;
    int32_t minute;
    int32_t second;
    int32_t nanosecond;
    int32_t offset_minutes;
} ctoml_datetime;

/** Parses the file at `path` (never NULL, except out of memory). */
ctoml_document *ctoml_parse_file(const char *path);
/** Parses `length` bytes of `text`; `source_name` names it in positions and errors. */
ctoml_document *ctoml_parse_string(const char *text, size_t length, const char *source_name);
/** Frees a document and every node in it. */
void ctoml_document_free(ctoml_document *document);

/** The root table, or NULL when parsing failed. */
const ctoml_node *ctoml_document_root(const ctoml_document *document);
/** Why parsing failed (NUL-terminated), or NULL when it succeeded. */
const char *ctoml_document_error(const ctoml_document *document);
/** Where parsing failed. */
ctoml_position ctoml_document_error_position(const ctoml_document *document);

/** A node's type. */
ctoml_type ctoml_node_type(const ctoml_node *node);
/** Where a node starts in the source. */
ctoml_position ctoml_node_position(const ctoml_node *node);
/** A table's key count or an array's length; 0 for other nodes. */
size_t ctoml_node_count(const ctoml_node *node);

/** A table's entry `index` (< count): its value, and its key (UTF-8, `key_length` bytes) and key position. */
const ctoml_node *ctoml_table_entry(const ctoml_node *table, size_t index, const char **key, size_t *key_length,
                                    ctoml_position *key_position);
/** An array's element `index` (< count). */
const ctoml_node *ctoml_array_element(const ctoml_node *array, size_t index);

/** A string node's UTF-8 bytes (`length` of them; may contain NUL); NULL for other nodes. */
const char *ctoml_string_value(const ctoml_node *node, size_t *length);
/** An integer node's value (0 for other nodes). */
int64_t ctoml_integer_value(const ctoml_node *node);
/** A float node's value (0 for other nodes). */
double ctoml_float_value(const ctoml_node *node);
/** A boolean node's value (false for other nodes). */
bool ctoml_boolean_value(const ctoml_node *node);
/** A date, time or date-time node's parts (all zero for other nodes). */
ctoml_datetime ctoml_datetime_value(const ctoml_node *node);

#ifdef __cplusplus
}
#endif
