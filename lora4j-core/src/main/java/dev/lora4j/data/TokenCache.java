package dev.lora4j.data;

import dev.lora4j.io.AtomicFiles;

import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Tokenized data cached beside its source ({@code FILE.lora4j-tokens}), so a second run maps ids
 * instead of tokenizing text. The cache is keyed by what decides its content: the source's size and
 * modification time, the tokenizer and chat template (their fingerprint), the vocabulary size and
 * whether bad lines are skipped; any change re-tokenizes and rewrites it (atomically). A directory
 * that cannot be written to simply goes without a cache.
 *
 * <p>Layout (little-endian ints): magic, key length, key (UTF-8, padded to 4 bytes), examples,
 * skipped lines; per example: length, has-labels, adapter-name length (−1: none), ids, labels if
 * any, adapter name (UTF-8, padded to 4 bytes).
 */
final class TokenCache {
    private static final int MAGIC = 0x4C344A54; // "L4JT"
    private static final int VERSION = 1;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private TokenCache() {}

    static Path pathOf(Path source) {
        return source.resolveSibling(source.getFileName() + ".lora4j-tokens");
    }

    static String key(Path source, int vocabSize, boolean skipBad, TextEncoder format) {
        try {
            return "v" + VERSION + " size=" + Files.size(source) + " mtime=" + Files.getLastModifiedTime(source).toMillis()
                    + " vocab=" + vocabSize + " skipBad=" + skipBad + " text=" + format.fingerprint();
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * The cached dataset, or null when there is none, it was made from something else, or it is damaged
     * (cut short, counts that do not fit the file, ids outside the vocabulary): the data is then tokenized again.
     */
    static TokenDataset load(Path source, String key, int vocabSize) {
        Path cache = pathOf(source);
        if (key == null || !Files.isRegularFile(cache)) return null;
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(cache, StandardOpenOption.READ)) {
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            long pos = 0;
            if (m.byteSize() < 8 || m.get(INT, 0) != MAGIC) return null;
            int keyLen = m.get(INT, 4);
            pos = 8;
            if (keyLen < 0 || pos + keyLen > m.byteSize()) return null;
            byte[] kb = m.asSlice(pos, keyLen).toArray(ValueLayout.JAVA_BYTE);
            if (!new String(kb, StandardCharsets.UTF_8).equals(key)) return null;
            pos += pad(keyLen);
            int n = m.get(INT, pos), skipped = m.get(INT, pos + 4);
            pos += 8;
            // every count is checked against the bytes left before anything is allocated from it
            if (n < 0 || skipped < 0 || 12L * n > m.byteSize() - pos) return null;
            List<int[]> examples = new ArrayList<>(n), labels = new ArrayList<>(n);
            List<String> adapters = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                int len = m.get(INT, pos), hasLabels = m.get(INT, pos + 4), nameLen = m.get(INT, pos + 8);
                pos += 12;
                long left = m.byteSize() - pos;
                if (len < 0 || (hasLabels != 0 && hasLabels != 1) || nameLen < -1 || 4L * len * (1 + hasLabels) + Math.max(0, nameLen) > left) return null;
                int[] ids = new int[len];
                MemorySegment.copy(m, INT, pos, ids, 0, len);
                pos += 4L * len;
                int[] lab = null;
                if (hasLabels == 1) {
                    lab = new int[len];
                    MemorySegment.copy(m, INT, pos, lab, 0, len);
                    pos += 4L * len;
                    for (int v : lab) if (v != -100 && (v < 0 || v >= vocabSize)) return null;
                }
                for (int v : ids) if (v < 0 || v >= vocabSize) return null;
                String name = null;
                if (nameLen >= 0) {
                    name = new String(m.asSlice(pos, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
                    pos += pad(nameLen);
                }
                examples.add(ids);
                labels.add(lab);
                adapters.add(name);
            }
            return new TokenDataset(source, List.copyOf(examples), Collections.unmodifiableList(labels), Collections.unmodifiableList(adapters), skipped);
        } catch (IOException | RuntimeException e) {
            return null; // unreadable or cut short: tokenize again
        }
    }

    static void store(Path source, String key, TokenDataset ds) {
        if (key == null || !Files.isWritable(source.toAbsolutePath().getParent())) return;
        try {
            AtomicFiles.write(pathOf(source), os -> {
                DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(os, 1 << 16));
                byte[] kb = key.getBytes(StandardCharsets.UTF_8);
                writeInt(out, MAGIC);
                writeInt(out, kb.length);
                writePadded(out, kb);
                writeInt(out, ds.examples().size());
                writeInt(out, ds.skipped());
                for (int i = 0; i < ds.examples().size(); i++) {
                    int[] ids = ds.examples().get(i), lab = ds.labels().get(i);
                    String name = ds.adapters().get(i);
                    byte[] nb = name == null ? null : name.getBytes(StandardCharsets.UTF_8);
                    writeInt(out, ids.length);
                    writeInt(out, lab == null ? 0 : 1);
                    writeInt(out, nb == null ? -1 : nb.length);
                    for (int v : ids) writeInt(out, v);
                    if (lab != null) for (int v : lab) writeInt(out, v);
                    if (nb != null) writePadded(out, nb);
                }
                out.flush();
            });
        } catch (IOException | RuntimeException e) {
            // a cache is an optimisation: failing to write one must not fail the run
        }
    }

    private static long pad(int n) {
        return (n + 3) / 4 * 4L;
    }

    private static void writeInt(DataOutputStream out, int v) throws IOException {
        out.writeInt(Integer.reverseBytes(v));
    }

    private static void writePadded(DataOutputStream out, byte[] b) throws IOException {
        out.write(b);
        for (long i = b.length; i < pad(b.length); i++) out.write(0);
    }
}
