package dev.lora4j.hostile;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The hostile-input corpus: malformed and hostile model files, configs, tokenizers, chat templates, data,
 * adapters, options and a full disk (a file-size limit on the child JVM). Every case must end in a clean
 * error (exit 1 or 2, stderr naming what was wrong, no stack trace) or in its documented acceptance, within
 * its time bound, in a JVM with a 256 MB heap.
 */
class HostileCorpusTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern TRACE = Pattern.compile("\\tat |\\b(java|javax|jdk|sun|com|dev|org)\\.[A-Za-z0-9_.$]+(Exception|Error)\\b");

    @TempDir
    Path tmp;

    @Test
    void everyHostileInputEndsInACleanErrorOrADocumentedAcceptance() throws Exception {
        Path corpus = TestPaths.repo("lora4j-cli/src/test/resources/hostile");
        JsonNode cases = JSON.readTree(corpus.resolve("cases.json").toFile());
        Set<String> groups = new LinkedHashSet<>();
        for (JsonNode c : cases) groups.add(c.has("fsize_kib") ? c.get("fsize_kib").asText() : "none");
        Map<String, JsonNode> results = new LinkedHashMap<>();
        for (String group : groups) results.putAll(runGroup(corpus, cases, group));

        List<String> failures = new ArrayList<>();
        Map<String, Integer> families = new LinkedHashMap<>();
        long slowest = 0;
        for (JsonNode c : cases) {
            String id = c.get("id").asText();
            families.merge(c.get("family").asText(), 1, Integer::sum);
            JsonNode r = results.get(id);
            Path dir = tmp.resolve("work-" + group(c)).resolve(id);
            if (r == null) {
                failures.add(id + ": no result (the JVM died, or an earlier case overran its bound)");
                continue;
            }
            String output = r.path("output").asText();
            if (r.has("timeout")) failures.add(id + ": still running after " + HostileCorpus.CASE_SECONDS + " s");
            else if (r.has("crash")) failures.add(id + ": " + r.get("crash").asText());
            else {
                int code = r.get("code").asInt();
                List<Integer> codes = new ArrayList<>();
                c.get("codes").forEach(n -> codes.add(n.asInt()));
                if (!codes.contains(code)) failures.add(id + ": exit " + code + ", expected " + codes + "\n" + indent(output));
                else if (TRACE.matcher(output).find()) failures.add(id + ": a stack trace or Java exception name\n" + indent(output));
                else {
                    for (JsonNode name : c.get("stderr")) {
                        String expected = HostileCorpus.expand(name.asText(), dir);
                        if (!output.contains(expected)) {
                            failures.add(id + ": output does not name '" + expected + "'\n" + indent(output));
                            break;
                        }
                    }
                    for (JsonNode path : c.path("absent"))
                        if (Files.exists(Path.of(HostileCorpus.expand(path.asText(), dir))))
                            failures.add(id + ": left " + HostileCorpus.expand(path.asText(), dir) + " behind\n" + indent(output));
                }
                slowest = Math.max(slowest, r.path("ms").asLong());
            }
        }
        System.out.println("hostile corpus: " + cases.size() + " cases " + families + ", slowest " + slowest + " ms, " + failures.size() + " failed");
        assertThat(families.keySet()).containsExactlyInAnyOrder("model files", "tokenizers", "chat templates", "data", "adapters", "options",
                "full disk");
        assertThat(cases.size()).isGreaterThanOrEqualTo(140);
        assertThat(failures).as(failures.size() + " of " + cases.size() + " cases failed:\n" + String.join("\n", failures)).isEmpty();
    }

    private static String group(JsonNode c) {
        return c.has("fsize_kib") ? c.get("fsize_kib").asText() : "none";
    }

    private static String indent(String s) {
        return "    | " + s.strip().replace("\n", "\n    | ");
    }

    /** One child JVM (256 MB heap; for a full disk, a file-size limit in KiB) running the group's cases. */
    private Map<String, JsonNode> runGroup(Path corpus, JsonNode cases, String group) throws IOException, InterruptedException {
        Path work = tmp.resolve("work-" + group);
        for (JsonNode c : cases) if (group(c).equals(group)) HostileCorpus.prepare(corpus, c, work.resolve(c.get("id").asText()));
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> jvm = List.of(java, "-Xmx256m", "-XX:-UsePerfData", "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), HostileCorpus.class.getName(),
                corpus.toString(), work.toString(), group);
        List<String> command = new ArrayList<>();
        if (group.equals("none")) command.addAll(jvm);
        else {
            // the child's files may not grow past the limit: a disk that fills up while lora4j writes
            command.addAll(List.of("bash", "-c", "ulimit -f " + group + " && exec \"$@\"", "bash"));
            command.addAll(jvm);
        }
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close(); // stdin at its end: nothing waits for a user
        // the results come through a pipe; the whole group is bounded (each case is, inside the child)
        Thread killer = Thread.ofVirtual().start(() -> {
            try {
                if (!p.waitFor(10, TimeUnit.MINUTES)) p.destroyForcibly();
            } catch (InterruptedException e) {
                p.destroyForcibly();
            }
        });
        Map<String, JsonNode> out = new LinkedHashMap<>();
        StringBuilder other = new StringBuilder();
        try (var lines = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = lines.readLine()) != null; ) {
                if (line.startsWith("{\"id\"")) {
                    JsonNode r = JSON.readTree(line);
                    out.put(r.get("id").asText(), r);
                } else other.append(line).append('\n');
            }
        }
        p.waitFor();
        killer.interrupt();
        Files.writeString(tmp.resolve("child-" + group + ".log"), other);
        if (out.isEmpty()) throw new AssertionError("group " + group + ": the child JVM gave no result:\n" + other);
        return out;
    }
}
