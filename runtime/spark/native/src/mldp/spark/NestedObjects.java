package mldp.spark;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.lang.reflect.Field;
import java.util.HashMap;
import java.util.Map;
import org.apache.spark.SparkUpgradeException;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.json.JSONOptions;
import org.apache.spark.sql.catalyst.json.JacksonParser;
import org.apache.spark.sql.catalyst.util.PartialResultException;
import org.apache.spark.sql.catalyst.util.PartialValueException;
import org.apache.spark.sql.catalyst.util.ResolveDefaultColumns;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;
import scala.Function1;
import scala.runtime.AbstractFunction1;
import scala.util.control.NonFatal;

/**
 * Spark's {@link JacksonParser} with a cheaper reader of a nested object (a struct inside the record, an element of
 * a list of structs): Spark 3.5's reader recomputes the struct's column defaults several times and builds a
 * filter set for every object it reads, which was about a tenth of the batch conversion's CPU (measured with Java
 * Flight Recorder on the processor benchmark). This reader does what Spark's does for such an object, step for step
 * (the same field lookup, the same converters, skip of an unknown key through the parser, partial results and
 * {@link PartialResultException} as Spark's {@code spark.sql.json.enablePartialResults} says) but for a struct with
 * no column defaults only, which is every struct of a spec's read schema; any other struct, any token but the
 * object's start, and a JVM where Spark's own setting cannot be read, are left to Spark's reader. The record's own
 * object is still read by Spark. The self-check of {@code runtime/spark/native_json.py} and its tests compare the
 * result with {@code from_json}'s.
 */
final class NestedObjects extends JacksonParser {
  private static final long serialVersionUID = 1L;
  private static final Field PARTIAL_RESULTS = partialResultsField();

  NestedObjects(DataType schema, JSONOptions options) {
    super(schema, options, false, JacksonParser.$lessinit$greater$default$4());
  }

  private static Field partialResultsField() {
    try {
      Field field = JacksonParser.class.getDeclaredField("enablePartialResults");
      field.setAccessible(true);
      return field;
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;  // another Spark: every object is left to Spark's reader
    }
  }

  /** Spark's {@code enablePartialResults} of this parser, or null when it cannot be read. Called after the
   * constructor (Spark's constructor builds the converters before its own fields are set). */
  Boolean partialResults() {
    try {
      return PARTIAL_RESULTS == null ? null : PARTIAL_RESULTS.getBoolean(this);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  @Override
  public Function1<JsonParser, Object> makeConverter(DataType dataType) {
    if (!(dataType instanceof StructType) || hasDefaults((StructType) dataType)) {
      return super.makeConverter(dataType);
    }
    StructType struct = (StructType) dataType;
    @SuppressWarnings("unchecked")
    Function1<JsonParser, Object>[] fields = new Function1[struct.length()];
    for (int i = 0; i < fields.length; i++) {
      fields[i] = makeConverter(struct.fields()[i].dataType());
    }
    return new NestedObject(this, struct, fields);
  }

  private static boolean hasDefaults(StructType struct) {
    for (Object value : ResolveDefaultColumns.existenceDefaultValues(struct)) {
      if (value != null) {
        return true;
      }
    }
    return false;
  }

  /** One struct's reader: Spark's {@code convertObject} for a nested object (no filters, not the root). */
  private static final class NestedObject extends AbstractFunction1<JsonParser, Object> {
    private final NestedObjects owner;
    private final StructType struct;
    private final Function1<JsonParser, Object>[] fields;
    private final Map<String, Integer> index = new HashMap<>();
    private Function1<JsonParser, Object> spark;  // Spark's own reader of the struct, made when first needed
    private Boolean partial;

    NestedObject(NestedObjects owner, StructType struct, Function1<JsonParser, Object>[] fields) {
      this.owner = owner;
      this.struct = struct;
      this.fields = fields;
      String[] names = struct.fieldNames();
      for (int i = 0; i < names.length; i++) {
        index.put(names[i], i);  // as StructType.getFieldIndex: the last of a name given twice
      }
    }

    @Override
    public Object apply(JsonParser parser) {
      if (partial == null) {
        partial = owner.partialResults();
      }
      JsonToken token = parser.currentToken();
      try {
        while (token == JsonToken.FIELD_NAME && partial != null) {  // a field's value: Spark's reader moves to it
          token = parser.nextToken();
        }
      } catch (java.io.IOException e) {
        throw NestedObjects.<RuntimeException>sneaky(e);
      }
      if (partial == null || token != JsonToken.START_OBJECT) {
        if (spark == null) {
          spark = owner.sparkConverter(struct);
        }
        return spark.apply(parser);
      }
      return read(parser, partial);
    }

    private Object read(JsonParser parser, boolean partialResults) {
      GenericInternalRow row = new GenericInternalRow(fields.length);
      Throwable bad = null;
      try {
        while (true) {
          JsonToken token = parser.nextToken();
          if (token == null || token == JsonToken.END_OBJECT) {
            break;
          }
          Integer at = index.get(parser.getCurrentName());
          if (at == null) {
            parser.skipChildren();
            continue;
          }
          int i = at;
          try {
            row.update(i, fields[i].apply(parser));
          } catch (Throwable e) {
            if (e instanceof SparkUpgradeException) {
              throw e;
            }
            if (e instanceof PartialValueException && partialResults) {
              bad = bad != null ? bad : ((PartialValueException) e).cause();
              row.update(i, ((PartialValueException) e).partialResult());
            } else if (NonFatal.apply(e) && partialResults) {
              bad = bad != null ? bad : e;
              parser.skipChildren();
            } else {
              throw e;
            }
          }
        }
      } catch (java.io.IOException e) {
        throw NestedObjects.<RuntimeException>sneaky(e);
      }
      if (bad == null) {
        return row;
      }
      throw NestedObjects.<RuntimeException>sneaky(new PartialResultException(row, bad));  // as Spark throws it
    }
  }

  /** Spark's own reader of {@code struct} (for a token that does not start an object). */
  Function1<JsonParser, Object> sparkConverter(StructType struct) {
    return super.makeConverter(struct);
  }

  /** Throws {@code e} as it is (a checked exception Spark's Scala code throws, unchanged). */
  @SuppressWarnings("unchecked")
  private static <T extends Throwable> T sneaky(Throwable e) throws T {
    throw (T) e;
  }
}
