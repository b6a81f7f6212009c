package mldp.spark;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.util.JsonParserDelegate;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.Literal;
import org.apache.spark.sql.catalyst.expressions.objects.StaticInvoke;
import org.apache.spark.sql.catalyst.json.CreateJacksonParser;
import org.apache.spark.sql.catalyst.json.JSONOptions;
import org.apache.spark.sql.catalyst.json.JacksonParser;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.util.FailureSafeParser;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.AbstractDataType;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;
import scala.collection.JavaConverters;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;

/**
 * Spark's {@code from_json} (the same {@link JacksonParser}, {@link JSONOptions} and PERMISSIVE
 * {@link FailureSafeParser}, so the same typed values, partial results and {@code _corrupt_record}), with two
 * differences: the record's UTF-8 bytes are handed to Jackson as bytes (as {@code spark.read.json} does; Spark 3.5's
 * {@code from_json} decodes them through an {@code InputStreamReader} per record), and the result carries one more
 * field, true when the parser skipped a field the schema does not read: Spark's parser calls
 * {@link JsonParser#skipChildren()} exactly for a key the schema lacks (and after a conversion error, which makes
 * the record malformed anyway). That flag is what the rescue needs to know, found in the one parse.
 *
 * <p>A skipped value is not thrown away: it is copied (as the skip would have consumed it) under its JSON path, so
 * the record's rescued data ({@code {"path":value,...}}, {@code runtime/transforms/rescue.py}'s format) and its
 * sightings (general path, {@code unknown}, JSON type, an example as Python's {@code json.dumps} lays it out) come
 * out of the same parse: two more fields after the flag, null when nothing was skipped. On a malformed record they
 * mean nothing (the caller rescues those in Python). A copied number is its token text, and strings are escaped as
 * Python escapes them ({@link PythonJson}): the same JSON text as the Python rescue writes.
 *
 * <p>An object that gives a name twice (at any depth, in a value the schema reads or not) makes the record malformed:
 * Jackson's {@link JsonParser.Feature#STRICT_DUPLICATE_DETECTION} throws on the repeated name, which the PERMISSIVE
 * parser turns into a corrupt record, as any JSON it cannot read ({@code from_json} keeps the last value, and the
 * earlier one would be lost without a trace).
 */
public final class FlaggedJson {
  private FlaggedJson() {}

  /** The column: {@code text} parsed with {@code schemaJson} (a StructType's JSON) and {@code optionsJson} (a JSON
   * object of reader options) in {@code timeZone}; its struct has the schema's fields, then {@code flagField},
   * {@code rescuedField} and {@code sightingsField}. */
  public static Column column(Column text, String schemaJson, String optionsJson, String timeZone,
                              String flagField, String rescuedField, String sightingsField) throws IOException {
    ObjectMapper mapper = new ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode config = mapper.createObjectNode();
    config.set("schema", mapper.readTree(schemaJson));
    config.set("options", mapper.readTree(optionsJson));
    config.put("timeZone", timeZone);
    StructType schema = (StructType) DataType.fromJson(schemaJson);
    StructType sighting = new StructType().add("path", DataTypes.StringType).add("kind", DataTypes.StringType)
        .add("type", DataTypes.StringType).add("example", DataTypes.StringType);
    StructType out = schema.asNullable().add(new StructField(flagField, DataTypes.BooleanType, false,
        org.apache.spark.sql.types.Metadata.empty())).add(rescuedField, DataTypes.StringType)
        .add(sightingsField, ArrayType.apply(sighting));
    Expression configLiteral = Literal.create(mapper.writeValueAsString(config), DataTypes.StringType);
    java.util.List<Expression> args = java.util.Arrays.asList(text.expr(), configLiteral);
    java.util.List<AbstractDataType> types = java.util.Collections.emptyList();
    StaticInvoke invoke = new StaticInvoke(FlaggedJson.class, out, "parse",
        JavaConverters.asScalaBuffer(args).toSeq(), JavaConverters.asScalaBuffer(types).toSeq(), true, true, true);
    return new Column(invoke);
  }

  /** The column: the elements of {@code text}, a JSON array, each one's text as the array holds it (an array of
   * strings; null where {@code from_json(text, array<string>)} is null), parsed with {@code optionsJson} (a JSON
   * object of reader options): {@link #elements}. */
  public static Column elementsColumn(Column text, String optionsJson) throws IOException {
    Expression configLiteral = Literal.create(optionsJson, DataTypes.StringType);
    java.util.List<Expression> args = java.util.Arrays.asList(text.expr(), configLiteral);
    java.util.List<AbstractDataType> types = java.util.Collections.emptyList();
    return new Column(new StaticInvoke(FlaggedJson.class, ArrayType.apply(DataTypes.StringType, true), "elements",
        JavaConverters.asScalaBuffer(args).toSeq(), JavaConverters.asScalaBuffer(types).toSeq(), true, true, true));
  }

  /** The element texts of a JSON array, as {@code from_json(text, array<string>)} finds them, each non-string
   * element as the text holds it: {@link ArrayElements#split}. */
  public static ArrayData elements(UTF8String text, UTF8String config) {
    return ArrayElements.split(text, config);
  }

  /** The column: whether {@code text}'s bytes are well-formed UTF-8 (null for null). */
  public static Column utf8Column(Column text) {
    java.util.List<Expression> args = java.util.Collections.singletonList(text.expr());
    java.util.List<AbstractDataType> types = java.util.Collections.emptyList();
    return new Column(new StaticInvoke(FlaggedJson.class, DataTypes.BooleanType, "validUtf8",
        JavaConverters.asScalaBuffer(args).toSeq(), JavaConverters.asScalaBuffer(types).toSeq(), true, false, true));
  }

  /** Whether the bytes are well-formed UTF-8 (Unicode's table 3-7: no stray continuation byte, no truncated,
   * overlong or surrogate sequence, nothing past U+10FFFF): exactly the texts Java's decoder reads without a
   * replacement character. One pass over the bytes, no copy. */
  public static boolean validUtf8(UTF8String text) {
    Object base = text.getBaseObject();
    long offset = text.getBaseOffset();
    int length = text.numBytes();
    int i = 0;
    while (i < length) {
      int b = org.apache.spark.unsafe.Platform.getByte(base, offset + i) & 0xff;
      if (b < 0x80) {
        i++;
        continue;
      }
      int count;
      int low = 0x80;
      int high = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) {
        count = 1;
      } else if (b >= 0xe0 && b <= 0xef) {
        count = 2;
        if (b == 0xe0) {
          low = 0xa0;
        } else if (b == 0xed) {
          high = 0x9f;
        }
      } else if (b >= 0xf0 && b <= 0xf4) {
        count = 3;
        if (b == 0xf0) {
          low = 0x90;
        } else if (b == 0xf4) {
          high = 0x8f;
        }
      } else {
        return false;
      }
      if (i + count >= length) {  // truncated: the sequence runs past the end
        return false;
      }
      int second = org.apache.spark.unsafe.Platform.getByte(base, offset + i + 1) & 0xff;
      if (second < low || second > high) {
        return false;
      }
      for (int k = 2; k <= count; k++) {
        int next = org.apache.spark.unsafe.Platform.getByte(base, offset + i + k) & 0xff;
        if (next < 0x80 || next > 0xbf) {
          return false;
        }
      }
      i += count + 1;
    }
    return true;
  }

  private static final ThreadLocal<State> STATE = new ThreadLocal<>();

  /** One record: its row (the schema's fields, then the flag), or null for a text holding no JSON value. */
  public static InternalRow parse(UTF8String text, UTF8String config) {
    State state = STATE.get();
    if (state == null || (state.source != config && !state.key.equals(config))) {
      try {
        state = new State(config.clone());
      } catch (IOException e) {
        throw new IllegalArgumentException("FlaggedJson: bad configuration", e);
      }
      STATE.set(state);
    }
    state.source = config;  // the literal's own object: the same for every record of the task, compared first
    return state.parse(text);
  }

  /** Parses with one configuration, in one thread. */
  private static final class State {
    final UTF8String key;
    UTF8String source;
    final FailureSafeParser<UTF8String> parser;
    final int width;
    boolean skipped;
    /** A skipped value could not be copied (a string longer than Jackson reads): the record is left to Python. */
    boolean incomplete;
    /** The record's skipped values by path (a name given twice makes the record malformed: never two for one). */
    final LinkedHashMap<String, Captured> captured = new LinkedHashMap<>();
    final JsonFactory plain = new JsonFactory();

    State(UTF8String key) throws IOException {
      this.key = key;
      JsonNode config = new ObjectMapper().readTree(key.toString());
      StructType schema = ((StructType) DataType.fromJson(config.get("schema").toString())).asNullable();
      scala.collection.immutable.Map<String, String> options = scala.collection.immutable.Map$.MODULE$.empty();
      Iterator<Map.Entry<String, JsonNode>> fields = config.get("options").fields();
      while (fields.hasNext()) {
        Map.Entry<String, JsonNode> entry = fields.next();
        options = options.$plus(new scala.Tuple2<>(entry.getKey(), entry.getValue().asText()));
      }
      String corrupt = config.get("options").has("columnNameOfCorruptRecord")
          ? config.get("options").get("columnNameOfCorruptRecord").asText() : "_corrupt_record";
      JSONOptions parsed = new JSONOptions(options, config.get("timeZone").asText(), corrupt);
      StructType actual = new StructType();
      for (StructField field : schema.fields()) {
        if (!field.name().equals(parsed.columnNameOfCorruptRecord())) {
          actual = actual.add(field);
        }
      }
      JacksonParser raw = new NestedObjects(actual, parsed);  // Spark's parser, nested objects read cheaper
      State self = this;
      AbstractFunction2<JsonFactory, UTF8String, JsonParser> create =
          new AbstractFunction2<JsonFactory, UTF8String, JsonParser>() {
            @Override
            public JsonParser apply(JsonFactory factory, UTF8String record) {
              try {
                JsonParser parser = bytesParser(factory, record);
                // a name given twice in one object throws (a malformed record): Spark would keep the last value only
                parser.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
                return new Flagging(self, parser);
              } catch (IOException e) {
                throw new RuntimeException(e);
              }
            }
          };
      AbstractFunction1<UTF8String, UTF8String> same = new AbstractFunction1<UTF8String, UTF8String>() {
        @Override
        public UTF8String apply(UTF8String record) {
          return record;
        }
      };
      AbstractFunction1<UTF8String, scala.collection.Iterable<InternalRow>> rawParse =
          new AbstractFunction1<UTF8String, scala.collection.Iterable<InternalRow>>() {
            @Override
            public scala.collection.Iterable<InternalRow> apply(UTF8String record) {
              return raw.parse(record, create, same);
            }
          };
      this.parser = new FailureSafeParser<>(rawParse, parsed.parseMode(), schema,
          parsed.columnNameOfCorruptRecord());
      this.width = schema.length();
    }

    InternalRow parse(UTF8String text) {
      skipped = false;
      incomplete = false;
      captured.clear();
      scala.collection.Iterator<InternalRow> rows = parser.parse(text);
      if (!rows.hasNext()) {
        return null;
      }
      InternalRow row = rows.next();
      Object[] values = new Object[width + 3];
      for (int i = 0; i < width; i++) {
        values[i] = row.isNullAt(i) ? null : row.get(i, null);
      }
      // a key was skipped and what it held was copied, or could not be copied
      values[width] = skipped && (incomplete || !captured.isEmpty());
      if (!captured.isEmpty() && !incomplete) {  // incomplete: flagged with no rescued data, for Python
        try {
          values[width + 1] = UTF8String.fromString(rescuedJson());
        } catch (IOException e) {
          throw new RuntimeException(e);
        }
        Object[] sightings = new Object[captured.size()];
        int i = 0;
        for (Map.Entry<String, Captured> entry : captured.entrySet()) {
          Captured item = entry.getValue();
          sightings[i++] = new GenericInternalRow(new Object[] {UTF8String.fromString(item.generalPath),
              UTF8String.fromString("unknown"), UTF8String.fromString(item.type),
              UTF8String.fromString(item.example)});
        }
        values[width + 2] = new GenericArrayData(sightings);
      }
      return new GenericInternalRow(values);
    }

    /** {@code {"path":value,...}}, compact, as Python's {@code json.dumps(..., separators=(",", ":"))}. */
    String rescuedJson() throws IOException {
      StringWriter out = new StringWriter();
      try (JsonGenerator generator = plain.createGenerator(out)) {
        generator.disable(JsonGenerator.Feature.ESCAPE_NON_ASCII);
        generator.setCharacterEscapes(PythonJson.ESCAPES);
        generator.writeStartObject();
        for (Map.Entry<String, Captured> entry : captured.entrySet()) {
          generator.writeFieldName(entry.getKey());
          generator.writeRawValue(entry.getValue().compact);
        }
        generator.writeEndObject();
      }
      return out.toString();
    }

    /** The path of the field (or element) a context stands on, from the record's root. */
    static List<Object> segments(JsonStreamContext context) {
      List<Object> segments = new ArrayList<>();
      for (JsonStreamContext at = context; at != null && !at.inRoot(); at = at.getParent()) {
        segments.add(0, at.inArray() ? (Object) at.getCurrentIndex() : at.getCurrentName());
      }
      return segments;
    }

    /** Copy the value the parser stands on (consuming it, as a skip would) under its path. */
    void capture(JsonParser parser) throws IOException {
      JsonToken token = parser.currentToken();
      JsonStreamContext context = parser.getParsingContext();
      if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
        context = context.getParent();  // the started structure's own context: its field is the parent's
      }
      List<Object> segments = segments(context);
      int depth = parser.getParsingContext().getNestingDepth();
      StringWriter out = new StringWriter();
      try (JsonGenerator generator = plain.createGenerator(out)) {
        generator.disable(JsonWriteFeature.WRITE_NAN_AS_STRINGS.mappedFeature());
        generator.setCharacterEscapes(PythonJson.ESCAPES);
        PythonJson.copyExact(parser, generator);
      } catch (StreamConstraintsException e) {
        JsonToken at = parser.currentToken();
        if (at != JsonToken.VALUE_STRING && at != JsonToken.FIELD_NAME) {
          throw e;  // a number too long: the skip fails on it too
        }
        // a string longer than Jackson reads (the skip does not read it): finish the skip, leave the record to Python
        if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
          while (parser.getParsingContext().getNestingDepth() >= depth && parser.nextToken() != null) {
            // the rest of the value, as the skip would consume it
          }
        }
        incomplete = true;
        return;
      }
      String compact = out.toString();
      captured.put(Paths.text(segments, false), new Captured(Paths.text(segments, true), typeOf(token), compact,
          example(compact)));
    }

    /** Python's {@code json.dumps(value, ensure_ascii=False)[:200]} of a compact JSON value. */
    String example(String compact) throws IOException {
      StringWriter out = new StringWriter();
      try (JsonParser parser = plain.createParser(compact);
           JsonGenerator generator = plain.createGenerator(out)) {
        generator.disable(JsonWriteFeature.WRITE_NAN_AS_STRINGS.mappedFeature());
        generator.setCharacterEscapes(PythonJson.ESCAPES);
        generator.setPrettyPrinter(new PythonJson.Layout());
        parser.enable(JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS);
        parser.nextToken();
        PythonJson.copyExact(parser, generator);
      }
      String text = out.toString();
      int length = text.codePointCount(0, text.length());
      return length <= 200 ? text : text.substring(0, text.offsetByCodePoints(0, 200));
    }
  }

  /** A skipped value: its general path, JSON type, compact JSON and example. */
  private static final class Captured {
    final String generalPath;
    final String type;
    final String compact;
    final String example;

    Captured(String generalPath, String type, String compact, String example) {
      this.generalPath = generalPath;
      this.type = type;
      this.compact = compact;
      this.example = example;
    }
  }

  /** The JSON type a value's first token shows, as {@code runtime.transforms.rescue.json_type} names it. */
  static String typeOf(JsonToken token) {
    switch (token) {
      case VALUE_STRING:
        return "string";
      case VALUE_NUMBER_INT:
        return "integer";
      case VALUE_NUMBER_FLOAT:
        return "number";
      case VALUE_TRUE:
      case VALUE_FALSE:
        return "boolean";
      case START_OBJECT:
        return "object";
      case START_ARRAY:
        return "array";
      default:
        return "null";
    }
  }

  /** Jackson reading the record's bytes as UTF-8. A record whose first bytes would make Jackson guess another
   * encoding (a NUL among the first four, or a byte-order mark) is read as characters, as from_json reads it. */
  static JsonParser bytesParser(JsonFactory factory, UTF8String record) throws IOException {
    ByteBuffer buffer = record.getByteBuffer();
    byte[] bytes = buffer.array();
    int offset = buffer.arrayOffset() + buffer.position();
    int length = buffer.remaining();
    for (int i = 0; i < Math.min(4, length); i++) {
      int b = bytes[offset + i] & 0xff;
      if (b == 0 || b == 0xef || b == 0xfe || b == 0xff) {
        return CreateJacksonParser.utf8String(factory, record);
      }
    }
    return factory.createParser(bytes, offset, length);
  }

  /** The record's parser, noting every skipped field. */
  private static final class Flagging extends JsonParserDelegate {
    private final State state;

    Flagging(State state, JsonParser parser) {
      super(parser);
      this.state = state;
    }

    @Override
    public JsonParser skipChildren() throws IOException {
      state.skipped = true;
      JsonToken token = delegate.currentToken();
      if (token != null && (token.isScalarValue() || token == JsonToken.START_OBJECT
          || token == JsonToken.START_ARRAY)) {
        state.capture(delegate);  // consumes exactly what the skip would
      } else {
        delegate.skipChildren();
      }
      return this;
    }
  }
}
