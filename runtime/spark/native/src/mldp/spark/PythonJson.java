package mldp.spark;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.core.util.MinimalPrettyPrinter;
import java.io.IOException;

/** Jackson writing a copied value as {@code runtime.transforms.rescue} writes it with Python's {@code json} and
 * {@code runtime.transforms.exact_json}: numbers as their token text, strings escaped as Python escapes them, and
 * (for an example) Python's {@code ", "} / {@code ": "} layout. */
final class PythonJson {
  /** Python's escapes, for {@link JsonGenerator#setCharacterEscapes}. */
  static final CharacterEscapes ESCAPES = new Escapes();

  private PythonJson() {}

  /** Copy the value the parser stands on (a scalar, or a structure from its start token to its end) as
   * {@link JsonGenerator#copyCurrentStructure} does, but a number with a fraction or an exponent as its token text:
   * Jackson's copy goes through a double, which drops digits past the 17th and makes {@code 1e400} infinite. A JSON
   * integer is copied as Jackson reads it (long or BigInteger: exact). A token that is no plain JSON number (NaN,
   * Infinity, which a spec may allow) goes through the double as before: written as Python writes it. */
  static void copyExact(JsonParser parser, JsonGenerator generator) throws IOException {
    int depth = 0;
    JsonToken token = parser.currentToken();
    while (true) {
      if (token == JsonToken.VALUE_NUMBER_FLOAT && plainNumber(parser.getText())) {
        generator.writeNumber(parser.getText());
      } else {
        generator.copyCurrentEvent(parser);
      }
      if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
        depth++;
      } else if (token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) {
        depth--;
      }
      if (depth == 0) {
        return;
      }
      token = parser.nextToken();
    }
  }

  /** Whether {@code text} is a number as RFC 8259 writes it: {@code -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?}
   * (Jackson's text of a number read with leading zeros allowed has them dropped already). */
  static boolean plainNumber(String text) {
    int length = text.length();
    int i = 0;
    if (i < length && text.charAt(i) == '-') {
      i++;
    }
    int start = i;
    while (i < length && isDigit(text.charAt(i))) {
      i++;
    }
    if (i == start || (text.charAt(start) == '0' && i - start > 1)) {
      return false;
    }
    if (i < length && text.charAt(i) == '.') {
      start = ++i;
      while (i < length && isDigit(text.charAt(i))) {
        i++;
      }
      if (i == start) {
        return false;
      }
    }
    if (i < length && (text.charAt(i) == 'e' || text.charAt(i) == 'E')) {
      i++;
      if (i < length && (text.charAt(i) == '+' || text.charAt(i) == '-')) {
        i++;
      }
      start = i;
      while (i < length && isDigit(text.charAt(i))) {
        i++;
      }
      if (i == start) {
        return false;
      }
    }
    return i == length;
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  /** Python's {@code json.dumps(..., ensure_ascii=False)} escapes: Jackson's ({@code \" \\ \b \t \n \f \r}, every
   * other control character as {@code \}{@code u00XX}), but the hex digits lower case, as Python writes them. */
  private static final class Escapes extends CharacterEscapes {
    private final int[] ascii = CharacterEscapes.standardAsciiEscapesForJSON();

    Escapes() {
      for (int c = 0; c < 0x20; c++) {
        if (ascii[c] == CharacterEscapes.ESCAPE_STANDARD) {
          ascii[c] = CharacterEscapes.ESCAPE_CUSTOM;
        }
      }
    }

    @Override
    public int[] getEscapeCodesForAscii() {
      return ascii;
    }

    /** A control character's escape; null (as is) for any other: Jackson asks for every character past ASCII. */
    @Override
    public SerializableString getEscapeSequence(int c) {
      return c < 0x20 ? new SerializedString(String.format("\\u%04x", c)) : null;
    }
  }

  /** Python's {@code json.dumps} layout: {@code ", "} between items, {@code ": "} after a key. */
  static final class Layout extends MinimalPrettyPrinter {
    @Override
    public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
      g.writeRaw(", ");
    }

    @Override
    public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
      g.writeRaw(": ");
    }

    @Override
    public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
      g.writeRaw(", ");
    }
  }
}
