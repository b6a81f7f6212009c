package mldp.spark;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.util.JsonParserDelegate;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
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
import org.apache.spark.sql.catalyst.util.FailureSafeParser;
import org.apache.spark.sql.types.AbstractDataType;
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
 */
public final class FlaggedJson {
  private FlaggedJson() {}

  /** The column: {@code text} parsed with {@code schemaJson} (a StructType's JSON) and {@code optionsJson} (a JSON
   * object of reader options) in {@code timeZone}; its struct has the schema's fields, then {@code flagField}. */
  public static Column column(Column text, String schemaJson, String optionsJson, String timeZone,
                              String flagField) throws IOException {
    ObjectMapper mapper = new ObjectMapper();
    com.fasterxml.jackson.databind.node.ObjectNode config = mapper.createObjectNode();
    config.set("schema", mapper.readTree(schemaJson));
    config.set("options", mapper.readTree(optionsJson));
    config.put("timeZone", timeZone);
    StructType schema = (StructType) DataType.fromJson(schemaJson);
    StructType out = schema.asNullable().add(new StructField(flagField, DataTypes.BooleanType, false,
        org.apache.spark.sql.types.Metadata.empty()));
    Expression configLiteral = Literal.create(mapper.writeValueAsString(config), DataTypes.StringType);
    java.util.List<Expression> args = java.util.Arrays.asList(text.expr(), configLiteral);
    java.util.List<AbstractDataType> types = java.util.Collections.emptyList();
    StaticInvoke invoke = new StaticInvoke(FlaggedJson.class, out, "parse",
        JavaConverters.asScalaBuffer(args).toSeq(), JavaConverters.asScalaBuffer(types).toSeq(), true, true, true);
    return new Column(invoke);
  }

  private static final ThreadLocal<State> STATE = new ThreadLocal<>();

  /** One record: its row (the schema's fields, then the flag), or null for a text holding no JSON value. */
  public static InternalRow parse(UTF8String text, UTF8String config) {
    State state = STATE.get();
    if (state == null || (state.key != config && !state.key.equals(config))) {
      try {
        state = new State(config.clone());
      } catch (IOException e) {
        throw new IllegalArgumentException("FlaggedJson: bad configuration", e);
      }
      STATE.set(state);
    }
    return state.parse(text);
  }

  /** Parses with one configuration, in one thread. */
  private static final class State {
    final UTF8String key;
    final FailureSafeParser<UTF8String> parser;
    final int width;
    boolean skipped;

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
      JacksonParser raw = new JacksonParser(actual, parsed, false, JacksonParser.$lessinit$greater$default$4());
      State self = this;
      AbstractFunction2<JsonFactory, UTF8String, JsonParser> create =
          new AbstractFunction2<JsonFactory, UTF8String, JsonParser>() {
            @Override
            public JsonParser apply(JsonFactory factory, UTF8String record) {
              try {
                return new Flagging(self, bytesParser(factory, record));
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
      scala.collection.Iterator<InternalRow> rows = parser.parse(text);
      if (!rows.hasNext()) {
        return null;
      }
      InternalRow row = rows.next();
      Object[] values = new Object[width + 1];
      for (int i = 0; i < width; i++) {
        values[i] = row.isNullAt(i) ? null : row.get(i, null);
      }
      values[width] = skipped;
      return new GenericInternalRow(values);
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
      delegate.skipChildren();
      return this;
    }
  }
}
