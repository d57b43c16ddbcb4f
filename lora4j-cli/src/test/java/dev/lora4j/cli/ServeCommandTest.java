package dev.lora4j.cli;

import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** `lora4j serve` as a process: the line it prints, a request over loopback, and SIGTERM during a request. */
class ServeCommandTest {
    @Test
    void sigtermDuringARequestEndsItAndExitsZero() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                "dev.lora4j.cli.Main", "serve", "--model", TestPaths.bundledModel().toString(), "--port", "0"))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (java.io.IOException e) {
                    return null;
                }
            });
            String line = first.get(120, TimeUnit.SECONDS);
            assertThat(line).matches("lora4j serve: listening on http://127\\.0\\.0\\.1:\\d+");
            String url = line.substring(line.indexOf("http://"));
            assertThat(url).doesNotEndWith(":0");
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(url + "/health")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            // a stream that would run to the model's length; SIGTERM arrives while it runs
            HttpRequest long_ = HttpRequest.newBuilder(URI.create(url + "/v1/completions")).timeout(Duration.ofSeconds(60))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                            "{\"model\":\"lora4j-stories\",\"prompt\":\"Once\",\"max_tokens\":120,\"ignore_eos\":true,\"stream\":true}")).build();
            CompletableFuture<HttpResponse<java.util.stream.Stream<String>>> running = http.sendAsync(long_, HttpResponse.BodyHandlers.ofLines());
            HttpResponse<java.util.stream.Stream<String>> r = running.get(60, TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(200);
            var lines = r.body().iterator();
            assertThat(lines.next()).startsWith("data: "); // the stream has started
            p.destroy(); // SIGTERM
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exited after SIGTERM").isTrue();
            assertThat(p.exitValue()).isZero();
            // the stream ends (cut, or with its last events), it does not hang
            CompletableFuture<Void> drained = CompletableFuture.runAsync(() -> { while (lines.hasNext()) lines.next(); });
            try {
                drained.get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException cut) {
                // the connection closed under the reader: also an end
            }
        } finally {
            p.destroyForcibly();
        }
    }
}
