package dev.lora4j.hostile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * Runs the hostile-input corpus (src/test/resources/hostile, written by src/test/hostile/make_corpus.py)
 * inside a child JVM started by {@link HostileCorpusTest} with a small heap: each case's command runs
 * in-process with its output captured and a time bound, and one JSON line per case goes to the real
 * standard output (a pipe: a file-size limit on the child does not cut it). A case that overruns its bound
 * ends the JVM (its thread cannot be stopped): the test then names it.
 *
 * <p>Arguments: corpus directory, work directory (the cases prepared by {@link #prepare}), and the
 * file-size limit (KiB) whose cases to run, or "none" for the cases without one.
 */
public final class HostileCorpus {
    static final long CASE_SECONDS = 30;
    private static final ObjectMapper JSON = new ObjectMapper();

    private HostileCorpus() {}

    public static void main(String[] args) throws Exception {
        Path corpus = Path.of(args[0]), work = Path.of(args[1]);
        String group = args[2];
        ExecutorService runner = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "hostile-case");
            t.setDaemon(true);
            return t;
        });
        PrintStream out = System.out, err = System.err;
        for (JsonNode c : JSON.readTree(corpus.resolve("cases.json").toFile())) {
            String fsize = c.has("fsize_kib") ? c.get("fsize_kib").asText() : "none";
            if (!fsize.equals(group)) continue;
            String id = c.get("id").asText();
            Path dir = work.resolve(id);
            List<String> argv = new ArrayList<>();
            for (JsonNode a : c.get("args")) argv.add(expand(a.asText(), dir));
            ByteArrayOutputStream captured = new ByteArrayOutputStream();
            ObjectNode r = JSON.createObjectNode().put("id", id);
            long t0 = System.nanoTime();
            try {
                System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
                System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
                Future<Integer> f = runner.submit(() -> Main.run(argv.toArray(String[]::new)));
                r.put("code", f.get(CASE_SECONDS, TimeUnit.SECONDS));
            } catch (TimeoutException e) {
                r.put("timeout", true);
            } catch (java.util.concurrent.ExecutionException e) {
                r.put("crash", e.getCause().toString());
            } catch (Throwable e) {
                r.put("crash", e.toString());
            } finally {
                System.setOut(out);
                System.setErr(err);
            }
            r.put("ms", (System.nanoTime() - t0) / 1_000_000);
            String text = captured.toString(StandardCharsets.UTF_8);
            r.put("output", text.length() > 4000 ? text.substring(0, 2000) + "\n…\n" + text.substring(text.length() - 2000) : text);
            out.println(JSON.writeValueAsString(r));
            out.flush();
            if (r.has("timeout")) System.exit(3); // the case's thread is still running: nothing after it can be trusted
        }
        System.exit(0);
    }

    /** The case's directory: copies of the base model, adapter and data, with the case's files laid over them. */
    static void prepare(Path corpus, JsonNode c, Path dir) throws IOException {
        copyTree(corpus.resolve("base"), dir);
        Path own = corpus.resolve("cases").resolve(c.get("id").asText());
        if (Files.isDirectory(own)) copyTree(own, dir);
        if (c.has("remove")) for (JsonNode rm : c.get("remove")) Files.deleteIfExists(dir.resolve(rm.asText()));
    }

    static String expand(String arg, Path dir) {
        return arg.replace("{model}", dir.resolve("model").toString()).replace("{adapter}", dir.resolve("adapter").toString())
                .replace("{data}", dir.resolve("data.jsonl").toString()).replace("{out}", dir.resolve("out").toString())
                .replace("{case}", dir.toString());
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.sorted(Comparator.naturalOrder()).toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
