// The C API of ctoml.h over toml++ 3 (the shared library: TOML_HEADER_ONLY=0).
#include "ctoml.h"

#include <iterator>
#include <new>
#include <string>
#include <toml++/toml.h>

struct ctoml_document {
    toml::table root;
    bool ok = false;
    std::string error;
    ctoml_position error_position{0, 0};
};

namespace {

const toml::node *cast(const ctoml_node *node) { return reinterpret_cast<const toml::node *>(node); }
const ctoml_node *wrap(const toml::node *node) { return reinterpret_cast<const ctoml_node *>(node); }

ctoml_position position(const toml::source_position &p) { return ctoml_position{p.line, p.column}; }

// toml++ reports a failure by throwing (TOML_EXCEPTIONS=1 in a C++ target with exceptions):
// nothing may cross the C boundary, so every parse is caught here.
template <typename Parse> ctoml_document *parse(Parse &&run) {
    auto *document = new (std::nothrow) ctoml_document();
    if (!document) return nullptr;
    try {
        document->root = run();
        document->ok = true;
    } catch (const toml::parse_error &error) {
        document->error = std::string(error.description());
        document->error_position = position(error.source().begin);
    } catch (const std::exception &error) {
        document->error = error.what();
    }
    return document;
}

void set_date(ctoml_datetime &out, const toml::date &date) {
    out.has_date = true;
    out.year = date.year;
    out.month = date.month;
    out.day = date.day;
}

void set_time(ctoml_datetime &out, const toml::time &time) {
    out.has_time = true;
    out.hour = time.hour;
    out.minute = time.minute;
    out.second = time.second;
    out.nanosecond = static_cast<int32_t>(time.nanosecond);
}

} // namespace

extern "C" {

ctoml_document *ctoml_parse_file(const char *path) {
    return parse([&] { return toml::parse_file(path); });
}

ctoml_document *ctoml_parse_string(const char *text, size_t length, const char *source_name) {
    return parse([&] { return toml::parse(std::string_view(text, length), std::string_view(source_name)); });
}

void ctoml_document_free(ctoml_document *document) { delete document; }

const ctoml_node *ctoml_document_root(const ctoml_document *document) {
    return document->ok ? wrap(&document->root) : nullptr;
}

const char *ctoml_document_error(const ctoml_document *document) {
    return document->ok ? nullptr : document->error.c_str();
}

ctoml_position ctoml_document_error_position(const ctoml_document *document) { return document->error_position; }

ctoml_type ctoml_node_type(const ctoml_node *node) {
    switch (cast(node)->type()) {
    case toml::node_type::table: return CTOML_TABLE;
    case toml::node_type::array: return CTOML_ARRAY;
    case toml::node_type::string: return CTOML_STRING;
    case toml::node_type::integer: return CTOML_INTEGER;
    case toml::node_type::floating_point: return CTOML_FLOAT;
    case toml::node_type::boolean: return CTOML_BOOLEAN;
    case toml::node_type::date: return CTOML_DATE;
    case toml::node_type::time: return CTOML_TIME;
    default: return CTOML_DATE_TIME;
    }
}

ctoml_position ctoml_node_position(const ctoml_node *node) { return position(cast(node)->source().begin); }

size_t ctoml_node_count(const ctoml_node *node) {
    if (auto *table = cast(node)->as_table()) return table->size();
    if (auto *array = cast(node)->as_array()) return array->size();
    return 0;
}

const ctoml_node *ctoml_table_entry(const ctoml_node *node, size_t index, const char **key, size_t *key_length,
                                    ctoml_position *key_position) {
    auto *table = cast(node)->as_table();
    if (!table || index >= table->size()) return nullptr;
    auto entry = std::next(table->begin(), static_cast<std::ptrdiff_t>(index));
    *key = entry->first.str().data();
    *key_length = entry->first.str().size();
    *key_position = position(entry->first.source().begin);
    return wrap(&entry->second);
}

const ctoml_node *ctoml_array_element(const ctoml_node *node, size_t index) {
    auto *array = cast(node)->as_array();
    if (!array || index >= array->size()) return nullptr;
    return wrap(array->get(index));
}

const char *ctoml_string_value(const ctoml_node *node, size_t *length) {
    auto *value = cast(node)->as_string();
    if (!value) return nullptr;
    *length = value->get().size();
    return value->get().data();
}

int64_t ctoml_integer_value(const ctoml_node *node) {
    auto *value = cast(node)->as_integer();
    return value ? value->get() : 0;
}

double ctoml_float_value(const ctoml_node *node) {
    auto *value = cast(node)->as_floating_point();
    return value ? value->get() : 0.0;
}

bool ctoml_boolean_value(const ctoml_node *node) {
    auto *value = cast(node)->as_boolean();
    return value ? value->get() : false;
}

ctoml_datetime ctoml_datetime_value(const ctoml_node *node) {
    ctoml_datetime out{};
    if (auto *date = cast(node)->as_date()) {
        set_date(out, date->get());
    } else if (auto *time = cast(node)->as_time()) {
        set_time(out, time->get());
    } else if (auto *date_time = cast(node)->as_date_time()) {
        set_date(out, date_time->get().date);
        set_time(out, date_time->get().time);
        if (date_time->get().offset) {
            out.has_offset = true;
            out.offset_minutes = date_time->get().offset->minutes;
        }
    }
    return out;
}

} // extern "C"
