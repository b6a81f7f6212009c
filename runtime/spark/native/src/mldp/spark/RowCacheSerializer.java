package mldp.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.columnar.CachedBatch;
import org.apache.spark.sql.columnar.CachedBatchSerializer;
import org.apache.spark.sql.internal.SQLConf;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.unsafe.Platform;
import scala.collection.JavaConverters;
import scala.collection.Seq;
import scala.runtime.AbstractFunction2;

/**
 * A cache that keeps rows as Spark's own binary rows ({@link UnsafeRow}), packed back to back in byte arrays of
 * about {@value #BATCH_BYTES} bytes, instead of Spark's default columnar cache, which re-encodes every value of every
 * row into per-column buffers and decodes them again on every read. The pipeline caches one batch at a time, reads it
 * two or three times in full and drops it, so the column encoding (built for long-lived, compressed, column-pruned
 * caches) is pure cost there: measured about 1 CPU-second per 200 MB of JSON on the batch conversion's fill of the
 * cache. A cached row costs one copy of its bytes in, and a pointer move out (plus a projection when a read selects
 * fewer columns).
 *
 * <p>Chosen with Spark's static setting {@code spark.sql.cache.serializer} (this class's name): the local session sets
 * it when this jar is on its classpath, and the workflow's Glue jobs pass it with {@code --conf}. The data cached is
 * the same; only how it is held differs. No partition statistics are kept, so a filter over the cache reads every
 * batch (the pipeline's filters keep most rows anyway). Lost blocks are recomputed as with any cache.
 */
public final class RowCacheSerializer implements CachedBatchSerializer {
  private static final long serialVersionUID = 1L;
  /** The bytes of rows a batch gathers before it is closed (a row larger than this is a batch of its own). */
  static final int BATCH_BYTES = 4 << 20;

  /** Rows one after another, each as its size (4 bytes) and its {@link UnsafeRow} bytes. */
  static final class RowBatch implements CachedBatch, Serializable {
    private static final long serialVersionUID = 1L;
    final int rows;
    final byte[] data;

    RowBatch(int rows, byte[] data) {
      this.rows = rows;
      this.data = data;
    }

    @Override
    public int numRows() {
      return rows;
    }

    @Override
    public long sizeInBytes() {
      return data.length;
    }
  }

  @Override
  public boolean supportsColumnarInput(Seq<Attribute> schema) {
    return false;
  }

  @Override
  public boolean supportsColumnarOutput(StructType schema) {
    return false;
  }

  @Override
  public RDD<CachedBatch> convertColumnarBatchToCachedBatch(RDD<ColumnarBatch> input, Seq<Attribute> schema,
                                                           StorageLevel storageLevel, SQLConf conf) {
    throw new UnsupportedOperationException("RowCacheSerializer caches rows (supportsColumnarInput is false)");
  }

  @Override
  public RDD<ColumnarBatch> convertCachedBatchToColumnarBatch(RDD<CachedBatch> input, Seq<Attribute> cached,
                                                             Seq<Attribute> selected, SQLConf conf) {
    throw new UnsupportedOperationException("RowCacheSerializer reads rows (supportsColumnarOutput is false)");
  }

  /** Every batch is kept: no statistics to prune by. */
  static final class KeepAll
      extends AbstractFunction2<Object, scala.collection.Iterator<CachedBatch>, scala.collection.Iterator<CachedBatch>>
      implements Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public scala.collection.Iterator<CachedBatch> apply(Object partition,
                                                        scala.collection.Iterator<CachedBatch> batches) {
      return batches;
    }
  }

  @Override
  public scala.Function2<Object, scala.collection.Iterator<CachedBatch>, scala.collection.Iterator<CachedBatch>>
      buildFilter(Seq<Expression> predicates, Seq<Attribute> cachedAttributes) {
    return new KeepAll();
  }

  @Override
  public RDD<CachedBatch> convertInternalRowToCachedBatch(RDD<InternalRow> input, Seq<Attribute> schema,
                                                         StorageLevel storageLevel, SQLConf conf) {
    DataType[] types = JavaConverters.seqAsJavaList(schema).stream().map(Attribute::dataType)
        .toArray(DataType[]::new);
    return input.toJavaRDD().mapPartitions(rows -> pack(rows, types)).rdd();
  }

  @Override
  public RDD<InternalRow> convertCachedBatchToInternalRow(RDD<CachedBatch> input, Seq<Attribute> cached,
                                                         Seq<Attribute> selected, SQLConf conf) {
    List<Attribute> all = new ArrayList<>(JavaConverters.seqAsJavaList(cached));
    List<Attribute> wanted = new ArrayList<>(JavaConverters.seqAsJavaList(selected));
    boolean whole = all.size() == wanted.size();
    for (int i = 0; whole && i < all.size(); i++) {
      whole = all.get(i).exprId().equals(wanted.get(i).exprId());
    }
    List<Attribute> projected = whole ? null : wanted;
    int fields = all.size();
    return input.toJavaRDD().mapPartitions(batches -> unpack(batches, fields, all, projected)).rdd();
  }

  /** The rows of one partition packed into batches. */
  static Iterator<CachedBatch> pack(Iterator<InternalRow> rows, DataType[] types) {
    return new Iterator<CachedBatch>() {
      private UnsafeProjection toUnsafe;  // only for a row that is not an UnsafeRow already

      @Override
      public boolean hasNext() {
        return rows.hasNext();
      }

      @Override
      public CachedBatch next() {
        if (!rows.hasNext()) {
          throw new NoSuchElementException();
        }
        byte[] buffer = new byte[1 << 16];
        int used = 0;
        int count = 0;
        while (rows.hasNext() && used < BATCH_BYTES) {
          InternalRow row = rows.next();
          UnsafeRow unsafe;
          if (row instanceof UnsafeRow) {
            unsafe = (UnsafeRow) row;
          } else {
            if (toUnsafe == null) {
              toUnsafe = UnsafeProjection.create(types);
            }
            unsafe = toUnsafe.apply(row);
          }
          int size = unsafe.getSizeInBytes();
          if ((long) used + 4 + size > buffer.length) {
            long wanted = Math.max(2L * buffer.length, (long) used + 4 + size);
            if (wanted > Integer.MAX_VALUE - 16) {
              throw new IllegalStateException("RowCacheSerializer: a batch over 2 GB (a row of " + size + " bytes)");
            }
            buffer = Arrays.copyOf(buffer, (int) wanted);
          }
          Platform.putInt(buffer, Platform.BYTE_ARRAY_OFFSET + used, size);
          unsafe.writeToMemory(buffer, Platform.BYTE_ARRAY_OFFSET + used + 4);
          used += 4 + size;
          count++;
        }
        return new RowBatch(count, Arrays.copyOf(buffer, used));
      }
    };
  }

  /** The rows of one partition's batches, each the whole cached row (one reused {@link UnsafeRow}, as Spark's own
   * cache reader reuses its row) or, when the read selects other columns, projected onto them. */
  static Iterator<InternalRow> unpack(Iterator<CachedBatch> batches, int fields, List<Attribute> cached,
                                      List<Attribute> selected) {
    UnsafeProjection projection = selected == null ? null : UnsafeProjection.create(
        JavaConverters.asScalaBuffer(new ArrayList<Expression>(selected)).toSeq(),
        JavaConverters.asScalaBuffer(cached).toSeq());
    UnsafeRow row = new UnsafeRow(fields);
    return new Iterator<InternalRow>() {
      private RowBatch batch;
      private int offset;

      @Override
      public boolean hasNext() {
        while (batch == null || offset >= batch.data.length) {
          if (!batches.hasNext()) {
            return false;
          }
          batch = (RowBatch) batches.next();
          offset = 0;
        }
        return true;
      }

      @Override
      public InternalRow next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        int size = Platform.getInt(batch.data, Platform.BYTE_ARRAY_OFFSET + offset);
        row.pointTo(batch.data, Platform.BYTE_ARRAY_OFFSET + offset + 4, size);
        offset += 4 + size;
        return projection == null ? row : projection.apply(row);
      }
    };
  }
}
