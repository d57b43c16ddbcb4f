package dev.lora4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.lora4j.TestPaths;
import dev.lora4j.generate.GenerationConfig;
import dev.lora4j.generate.TextGenerator;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The server driven by clients nobody here wrote: the OpenAI Java SDK and LangChain4j's OpenAI models; plus raw HTTP for bad input. */
class OpenAiServerTest {
    static final String KEY = "test-key";
    @TempDir static Path root;
    static Path template;
    static OpenAiServer server;
    static TextGenerator reference; // the same model and adapters, in-process, one request at a time
    static OpenAIClient openai;
    static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void start() throws IOException {
        template = TestPaths.repo("lora4j-server/src/test/resources/chatml.jinja");
        Path model = TestPaths.bundledModel();
        try (Transformer base = Transformer.load(model)) {
            for (int k = 0; k < 3; k++) PeftAdapter.save(root.resolve("adapters/a" + k), randomAdapter(base, 10 + k), model.toString());
        }
        server = OpenAiServer.start(ServeOptions.builder(model).port(0).apiKey(KEY).chatTemplate(template).servedModelName("base")
                .adapter("a0", root.resolve("adapters/a0")).adapter("a1", root.resolve("adapters/a1"))
                .adapterRoots(List.of(root.resolve("adapters"))).maxBatch(8).maxLoadedAdapters(2).build());
        reference = TextGenerator.builder(model).chatTemplate(template).adapter("a0", root.resolve("adapters/a0"))
                .adapter("a1", root.resolve("adapters/a1")).adapter("a2", root.resolve("adapters/a2")).build();
        openai = OpenAIOkHttpClient.builder().baseUrl(server.url() + "/v1").apiKey(KEY).maxRetries(0).build();
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        if (reference != null) reference.close();
    }

    static LoraModel randomAdapter(Transformer base, long seed) {
        LoraModel m = LoraModel.inject(base, LoraConfig.builder().r(4).alpha(8).targets("q_proj,v_proj").build(), seed);
        SplittableRandom r = new SplittableRandom(seed + 1);
        for (LoraLinear l : m.modules().values()) for (int i = 0; i < l.b().length; i++) l.b()[i] = (float) r.nextDouble(-1, 1);
        return m;
    }

    static String greedy(String adapter, String prompt, int max) {
        return reference.generate(TextGenerator.Request.text(prompt).adapter(adapter)
                .config(GenerationConfig.builder().maxNewTokens(max).temperature(0).build())).text();
    }

    static HttpResponse<String> post(String path, String body, boolean auth) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json");
        if (auth) b.header("Authorization", "Bearer " + KEY);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theOpenAiSdkListsCompletesChatsAndStreams() {
        List<String> ids = openai.models().list().data().stream().map(Model::id).toList();
        assertThat(ids).contains("base", "a0", "a1");
        for (String model : List.of("base", "a0", "a1")) {
            var c = openai.completions().create(CompletionCreateParams.builder().model(model).prompt("Once upon a time").maxTokens(12).temperature(0.0).build());
            assertThat(c.choices().getFirst().text()).as(model).isEqualTo(greedy(model.equals("base") ? null : model, "Once upon a time", 12));
            assertThat(c.usage().orElseThrow().completionTokens()).isPositive();
        }
        ChatCompletionCreateParams chat = ChatCompletionCreateParams.builder().model("a1").addUserMessage("Tell me about a cat.")
                .maxCompletionTokens(10).temperature(0.0).build();
        ChatCompletion whole = openai.chat().completions().create(chat);
        String expected = reference.generate(TextGenerator.Request.chat(List.of(new dev.lora4j.tokenizer.ChatTemplate.Message("user", "Tell me about a cat.")))
                .adapter("a1").config(GenerationConfig.builder().maxNewTokens(10).temperature(0).build())).text();
        assertThat(whole.choices().getFirst().message().content().orElse("")).isEqualTo(expected);
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> s = openai.chat().completions().createStreaming(chat)) {
            s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append)));
        }
        assertThat(streamed.toString()).isEqualTo(expected);
    }

    @Test
    void langChain4jTalksToTheServerAndPicksAnAdapterByName() throws Exception {
        OpenAiChatModel model = OpenAiChatModel.builder().baseUrl(server.url() + "/v1").apiKey(KEY).modelName("a0").temperature(0.0).maxTokens(8).build();
        String expected = reference.generate(TextGenerator.Request.chat(List.of(new dev.lora4j.tokenizer.ChatTemplate.Message("user", "Hello")))
                .adapter("a0").config(GenerationConfig.builder().maxNewTokens(8).temperature(0).build())).text();
        assertThat(model.chat("Hello")).isEqualTo(expected);
        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(server.url() + "/v1").apiKey(KEY).modelName("a0")
                .temperature(0.0).maxTokens(8).build();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        StringBuilder partial = new StringBuilder();
        streaming.chat("Hello", new StreamingChatResponseHandler() {
            public void onPartialResponse(String s) {
                partial.append(s);
            }

            public void onCompleteResponse(ChatResponse r) {
                done.complete(r);
            }

            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }
        });
        assertThat(done.get(60, TimeUnit.SECONDS).aiMessage().text()).isEqualTo(expected);
        assertThat(partial.toString()).isEqualTo(expected);
    }

    @Test
    void adaptersLoadAndUnloadWhileOtherRequestsRun() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<String>> running = new ArrayList<>();
            for (int i = 0; i < 4; i++)
                running.add(pool.submit(() -> openai.completions().create(CompletionCreateParams.builder().model("a1").prompt("The dog")
                        .maxTokens(24).temperature(0.0).build()).choices().getFirst().text()));
            HttpResponse<String> load = post("/v1/load_lora_adapter", "{\"lora_name\": \"a2\", \"lora_path\": \"" + root.resolve("adapters/a2") + "\"}", true);
            assertThat(load.statusCode()).as(load.body()).isEqualTo(200);
            var c = openai.completions().create(CompletionCreateParams.builder().model("a2").prompt("The dog").maxTokens(10).temperature(0.0).build());
            assertThat(c.choices().getFirst().text()).isEqualTo(greedy("a2", "The dog", 10));
            // three adapters with room for two in memory: a0 was evicted and comes back on demand
            var again = openai.completions().create(CompletionCreateParams.builder().model("a0").prompt("The dog").maxTokens(10).temperature(0.0).build());
            assertThat(again.choices().getFirst().text()).isEqualTo(greedy("a0", "The dog", 10));
            for (Future<String> f : running) assertThat(f.get(60, TimeUnit.SECONDS)).isEqualTo(greedy("a1", "The dog", 24));
            assertThat(post("/v1/unload_lora_adapter", "{\"lora_name\": \"a2\"}", true).statusCode()).isEqualTo(200);
            HttpResponse<String> gone = post("/v1/completions", "{\"model\": \"a2\", \"prompt\": \"x\"}", true);
            assertThat(gone.statusCode()).isEqualTo(404);
            assertThat(JSON.readTree(gone.body()).path("error").path("code").asText()).isEqualTo("model_not_found");
            HttpResponse<String> escape = post("/v1/load_lora_adapter", "{\"lora_name\": \"x\", \"lora_path\": \"" + root.resolve("adapters/../..") + "\"}", true);
            assertThat(escape.statusCode()).isEqualTo(400);
            assertThat(escape.body()).contains("outside the adapter directories");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void badRequestsGetAnOpenAiErrorAndTheServerKeepsServing() throws Exception {
        assertThat(post("/v1/completions", "{\"model\": \"base\", \"prompt\": \"x\"}", false).statusCode()).isEqualTo(401);
        String[][] cases = {
                {"{bad json", "400", "not valid JSON"},
                {"[1, 2]", "400", "JSON object"},
                {"{\"model\": \"base\"}", "400", "'prompt' is required"},
                {"{\"model\": \"base\", \"prompt\": \"x\", \"max_tokens\": -1}", "400", "max_tokens"},
                {"{\"model\": \"base\", \"prompt\": \"x\", \"max_tokens\": 1e12}", "400", "max_tokens"},
                {"{\"model\": \"base\", \"prompt\": \"x\", \"temperature\": \"hot\"}", "400", "temperature"},
                {"{\"model\": \"base\", \"prompt\": [1, 2, 99999999]}", "400", "outside the vocabulary"},
                {"{\"model\": \"base\", \"prompt\": \"x\", \"n\": 3}", "400", "n must be 1"},
                {"{\"model\": \"nope\", \"prompt\": \"x\"}", "404", "does not exist"},
                {"{\"model\": \"base\", \"prompt\": \"" + "a".repeat(2 << 20) + "\"}", "413", "bytes"},
                {"{\"model\": \"base\", \"prompt\": \"" + "word ".repeat(5000) + "\"}", "400", "fit"},
        };
        for (String[] c : cases) {
            HttpResponse<String> r = post("/v1/completions", c[0], true);
            assertThat(r.statusCode()).as(c[0].length() > 80 ? c[0].substring(0, 80) : c[0]).isEqualTo(Integer.parseInt(c[1]));
            JsonNode err = JSON.readTree(r.body()).path("error");
            assertThat(err.path("message").asText()).contains(c[2]);
            assertThat(err.has("type") && err.has("param") && err.has("code")).isTrue();
        }
        HttpResponse<String> chat = post("/v1/chat/completions", "{\"model\": \"base\", \"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}", true);
        assertThat(chat.statusCode()).isEqualTo(400);
        assertThat(openai.completions().create(CompletionCreateParams.builder().model("base").prompt("Once").maxTokens(3).temperature(0.0).build())
                .choices()).hasSize(1);
        HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.body()).contains("lora4j_requests_total{endpoint=\"/v1/completions\",status=\"400\"}", "lora4j_batch_size_bucket",
                "lora4j_time_to_first_token_seconds_count", "lora4j_adapters_loaded", "lora4j_queue_length");
    }

    @Test
    void concurrentClientsOverMixedAdaptersGetTheirOneAtATimeAnswers() throws Exception {
        String[] prompts = {"Once upon a time", "Tom looks at Anna", "The dog", "Lily and her mom went to the park.", "Ben", "One day, a little bird"};
        String[] models = {"base", "a0", "a1"};
        int n = 24;
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) expected.add(greedy(models[i % 3].equals("base") ? null : models[i % 3], prompts[i % prompts.length], 16));
        ExecutorService pool = Executors.newFixedThreadPool(12);
        try {
            List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int k = i;
                answers.add(pool.submit(() -> openai.completions().create(CompletionCreateParams.builder().model(models[k % 3])
                        .prompt(prompts[k % prompts.length]).maxTokens(16).temperature(0.0).build()).choices().getFirst().text()));
            }
            for (int i = 0; i < n; i++) assertThat(answers.get(i).get(120, TimeUnit.SECONDS)).as("request %d", i).isEqualTo(expected.get(i));
        } finally {
            pool.shutdownNow();
        }
    }

    static long metric(String name) throws Exception {
        String body = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        for (String line : body.split("\n")) if (line.startsWith(name + " ")) return Long.parseLong(line.substring(name.length() + 1).trim());
        throw new AssertionError("no metric " + name + " in\n" + body);
    }

    /**
     * A client that sends a long request and hangs up (a raw socket, closed right after the request)
     * has its request cancelled and its slot freed, whether it asked for a stream or not.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "stream={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void aClientThatHangsUpIsCancelledAndItsSlotFreed(boolean stream) throws Exception {
        long before = metric("lora4j_requests_cancelled_total");
        // the longest request the bundled model allows, which ends only at its length
        String body = "{\"model\":\"base\",\"prompt\":\"Once\",\"max_tokens\":120,\"ignore_eos\":true,\"stream\":" + stream + "}";
        URI u = URI.create(server.url());
        // other long requests share the batch, so the one hung up on is still running when the server looks
        ExecutorService others = Executors.newFixedThreadPool(4);
        for (int i = 0; i < 4; i++)
            others.submit(() -> post("/v1/completions", "{\"model\":\"a0\",\"prompt\":\"The dog\",\"max_tokens\":120,\"ignore_eos\":true}", true));
        int hangUps = 0;
        for (int attempt = 0; attempt < 5 && metric("lora4j_requests_cancelled_total") == before; attempt++) {
            try (java.net.Socket socket = new java.net.Socket(u.getHost(), u.getPort())) {
                byte[] b = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                socket.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY
                        + "\r\nContent-Type: application/json\r\nContent-Length: " + b.length + "\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                socket.getOutputStream().write(b);
                socket.getOutputStream().flush();
                if (stream) socket.getInputStream().read(); // the stream has started
            }
            hangUps++;
            for (int i = 0; i < 100 && metric("lora4j_requests_cancelled_total") == before; i++) Thread.sleep(20);
        }
        others.shutdown();
        assertThat(others.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
        assertThat(metric("lora4j_requests_cancelled_total")).as("cancelled after %d hang-ups", hangUps).isGreaterThan(before);
        for (int i = 0; i < 250 && metric("lora4j_active_sequences") > 0; i++) Thread.sleep(20);
        assertThat(metric("lora4j_active_sequences")).isZero();
    }

    /**
     * Rounds of concurrent requests leave the heap where the first round left it: nothing per request is kept. The
     * heap is measured as each pool's usage after the last collection: the plain used figure also counted what the
     * server's threads allocated between System.gc() and the reading, and moved by 10-15 MB between runs.
     */
    @Test
    void memoryStaysFlatUnderLoad() throws Exception {
        List<java.lang.management.MemoryPoolMXBean> heap = java.lang.management.ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == java.lang.management.MemoryType.HEAP && p.getCollectionUsage() != null).toList();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        long[] used = new long[4];
        try {
            for (int round = 0; round < used.length; round++) {
                List<Future<?>> all = new ArrayList<>();
                for (int i = 0; i < 32; i++) {
                    int k = i;
                    all.add(pool.submit(() -> openai.completions().create(CompletionCreateParams.builder().model(k % 2 == 0 ? "a0" : "base")
                            .prompt("Once upon a time " + k).maxTokens(24).temperature(0.8).seed(k).build())));
                }
                for (Future<?> f : all) f.get(120, TimeUnit.SECONDS);
                for (int g = 0; g < 3; g++) System.gc();
                used[round] = heap.stream().mapToLong(p -> p.getCollectionUsage().getUsed()).sum();
            }
        } finally {
            pool.shutdownNow();
        }
        // after warm-up, later rounds may not grow the live heap by more than a few MB
        assertThat(used[3] - used[1]).as("heap after rounds: %s", java.util.Arrays.toString(used)).isLessThan(8L << 20);
    }
}
