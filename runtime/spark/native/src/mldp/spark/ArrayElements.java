package mldp.spark;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.catalyst.json.JSONOptions;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.unsafe.types.UTF8String;

/** The split of a JSON array into its elements' texts ({@link FlaggedJson#elements}): where {@code from_json(text,
 * array<string>)} writes each element again with Jackson (a number through a double), an element here is its text
 * as the array holds it. */
final class ArrayElements {
  private static final ThreadLocal<Splitter> SPLITTER = new ThreadLocal<>();

  private ArrayElements() {}

  /** The element texts of a JSON array, as {@code from_json(text, array<string>)} finds them (the same parser
   * options; null for a text that is not one array, or that Jackson cannot read to its end), but an object, a number,
   * a boolean or an array element as the text holds it, not re-serialised by Jackson (which writes a number through
   * a double: {@code 1e400} became {@code "Infinity"}); a string element is its value, a null element null, as
   * there. What follows the array is ignored, as there. */
  static ArrayData split(UTF8String text, UTF8String config) {
    Splitter splitter = SPLITTER.get();
    if (splitter == null || (splitter.source != config && !splitter.key.equals(config))) {
      try {
        splitter = new Splitter(config.clone());
      } catch (IOException e) {
        throw new IllegalArgumentException("ArrayElements: bad options", e);
      }
      SPLITTER.set(splitter);
    }
    splitter.source = config;
    return splitter.split(text.toString());
  }

  /** Splits arrays with one set of reader options, in one thread. */
  private static final class Splitter {
    final UTF8String key;
    UTF8String source;
    final JsonFactory factory;

    Splitter(UTF8String key) throws IOException {
      this.key = key;
      scala.collection.immutable.Map<String, String> options = scala.collection.immutable.Map$.MODULE$.empty();
      Iterator<Map.Entry<String, JsonNode>> fields = new ObjectMapper().readTree(key.toString()).fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> entry = fields.next();
        options = options.$plus(new scala.Tuple2<>(entry.getKey(), entry.getValue().asText()));
      }
      this.factory = new JSONOptions(options, "UTC", "_corrupt_record").buildJsonFactory();
    }

    ArrayData split(String text) {
      try (JsonParser parser = factory.createParser(text)) {
        if (parser.nextToken() != JsonToken.START_ARRAY) {
          return null;
        }
        List<Object> out = new ArrayList<>();
        for (JsonToken token = parser.nextToken(); token != JsonToken.END_ARRAY; token = parser.nextToken()) {
          if (token == null) {
            return null;
          } else if (token == JsonToken.VALUE_NULL) {
            out.add(null);
          } else if (token == JsonToken.VALUE_STRING) {
            out.add(UTF8String.fromString(parser.getText()));
          } else {
            int start = (int) parser.getTokenLocation().getCharOffset();
            readValue(parser);
            out.add(UTF8String.fromString(text.substring(start, (int) parser.getCurrentLocation().getCharOffset())));
          }
        }
        return new GenericArrayData(out.toArray());
      } catch (IOException | RuntimeException e) {
        return null;  // PERMISSIVE: from_json is null for a text it cannot read
      }
    }

    /** Read the value the parser stands on to its end, every string decoded (as Spark's copy of it decodes them: a
     * string past Jackson's limit fails the array there too). */
    static void readValue(JsonParser parser) throws IOException {
      int depth = 0;
      JsonToken token = parser.currentToken();
      while (true) {
        if (token == null) {
          throw new IOException("the array ends inside an element");
        } else if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
          depth++;
        } else if (token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) {
          depth--;
        } else if (token.isScalarValue()) {
          parser.getText();
        }
        if (depth == 0) {
          return;
        }
        token = parser.nextToken();
      }
    }
  }
}
