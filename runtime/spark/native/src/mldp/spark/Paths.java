package mldp.spark;

import java.util.List;
import java.util.regex.Pattern;

/** The text of a rescued field's path, as {@code runtime.transforms.rescue.path_text} and {@code general_path}
 * write it: {@code a.b[2].c}; a name holding {@code . [ ] " \} or starting with {@code $}, or empty, as a JSON
 * string in brackets ({@code a["x.y"]}, ASCII-escaped as Python's {@code json.dumps}); in the general path every list
 * index is {@code []}. */
final class Paths {
  private static final Pattern PLAIN = Pattern.compile("^[^.\\[\\]\"\\\\$][^.\\[\\]\"\\\\]*$");

  private Paths() {}

  static String text(List<Object> segments, boolean general) {
    StringBuilder out = new StringBuilder();
    for (Object segment : segments) {
      if (segment instanceof Integer) {
        out.append(general ? "[]" : "[" + segment + "]");
      } else if (PLAIN.matcher((String) segment).matches()) {
        if (out.length() > 0) {
          out.append('.');
        }
        out.append((String) segment);
      } else {
        out.append('[').append(asciiJson((String) segment)).append(']');
      }
    }
    return out.toString();
  }

  /** Python's {@code json.dumps(name)} (ensure_ascii): a JSON string with every non-ASCII character escaped. */
  static String asciiJson(String name) {
    StringBuilder out = new StringBuilder("\"");
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
          if (c < 0x20 || c > 0x7e) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
      }
    }
    return out.append('"').toString();
  }
}
