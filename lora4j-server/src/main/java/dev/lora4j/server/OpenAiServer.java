package dev.lora4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.generate.Completion;
import dev.lora4j.generate.ContinuousBatcher;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.TextGenerator;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An OpenAI-compatible HTTP server over one base model and its LoRA adapters (Jetty 12, handlers on
 * virtual threads): /v1/models, /v1/completions and /v1/chat/completions (streamed as server-sent events
 * when asked), vLLM's /v1/load_lora_adapter and /v1/unload_lora_adapter, /health and /metrics. Every
 * generation goes through one {@link ContinuousBatcher}. Errors are OpenAI's error object with a 4xx/5xx.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ServeOptions options;
    private final TextGenerator generator;
    private final ContinuousBatcher batcher;
    private final AdapterRegistry adapters;
    private final Metrics metrics = new Metrics();
    private final Server server;
    private final ServerConnector connector;
    private final long created = System.currentTimeMillis() / 1000;
    private final AtomicLong ids = new AtomicLong();

    /** An error answered as OpenAI's {"error": {...}} with an HTTP status. */
    static final class ApiError extends RuntimeException {
        final int status;
        final String type, param, code;

        ApiError(int status, String type, String message, String param, String code) {
            super(message);
            this.status = status;
            this.type = type;
            this.param = param;
            this.code = code;
        }

        static ApiError invalid(String message, String param) {
            return new ApiError(400, "invalid_request_error", message, param, null);
        }
    }

    private OpenAiServer(ServeOptions options) {
        this.options = options;
        this.generator = TextGenerator.builder(options.model()).chatTemplate(options.chatTemplate()).quantize(options.quantize())
                .onQuantized(r -> System.getLogger("dev.lora4j.server").log(System.Logger.Level.INFO, "lora4j serve: " + r.describe())).build();
        try {
            adapters = new AdapterRegistry(generator, options.adapterRoots(), options.maxLoadedAdapters());
            options.adapters().forEach(adapters::register);
            batcher = new ContinuousBatcher(generator, new ContinuousBatcher.Options(options.maxBatch(), options.maxQueue(), options.maxSequenceLength()),
                    (rows, prefill, nanos) -> { if (rows > 0) metrics.batchRows.observe(rows); });
        } catch (RuntimeException e) {
            generator.close();
            throw e;
        }
        metrics.gauge("lora4j_queue_length", "requests waiting for a slot", batcher::queued);
        metrics.gauge("lora4j_active_sequences", "sequences being decoded", batcher::active);
        metrics.counter("lora4j_requests_cancelled_total", "requests given up before they finished (client gone, timeout, shutdown)", batcher::cancelled);
        metrics.gauge("lora4j_adapters_loaded", "adapters held in memory", adapters::loadedCount);
        metrics.gauge("lora4j_adapters_known", "adapters served (loaded or evicted)", () -> adapters.names().size());
        QueuedThreadPool pool = new QueuedThreadPool(64, 4);
        pool.setName("lora4j-http");
        pool.setVirtualThreadsExecutor(Executors.newVirtualThreadPerTaskExecutor()); // handlers block (reading bodies, streaming)
        server = new Server(pool);
        connector = new ServerConnector(server);
        connector.setHost(options.host());
        connector.setPort(options.port());
        server.addConnector(connector);
        server.setHandler(new org.eclipse.jetty.server.handler.GracefulHandler(new Api())); // stop() waits for requests in flight
        server.setStopTimeout(30_000);
    }

    /** Loads the model and adapters and starts listening. */
    public static OpenAiServer start(ServeOptions options) {
        OpenAiServer s = new OpenAiServer(options);
        try {
            s.server.start();
        } catch (Exception e) {
            s.close();
            throw new Lora4jException("cannot listen on " + options.host() + ":" + options.port() + ": " + e.getMessage(), e);
        }
        return s;
    }

    /** The port bound (the free one chosen for port 0). */
    public int port() {
        return connector.getLocalPort();
    }

    public String url() {
        String host = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        return "http://" + host + ":" + port();
    }

    /** Stops accepting connections, ends the requests in flight (a 503), then releases the model. */
    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception ignored) {
            // stopping anyway
        }
        batcher.close();
        generator.close();
    }

    private final class Api extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            String path = Request.getPathInContext(request), method = request.getMethod();
            String endpoint = path.startsWith("/v1/") || path.equals("/health") || path.equals("/metrics") ? path : "other";
            int status = 200;
            try {
                if (path.startsWith("/v1/") && options.apiKey() != null
                        && !("Bearer " + options.apiKey()).equals(request.getHeaders().get(HttpHeader.AUTHORIZATION)))
                    throw new ApiError(401, "invalid_request_error", "a valid API key is needed: Authorization: Bearer KEY", null, "invalid_api_key");
                switch (method + " " + path) {
                    case "GET /health" -> send(response, callback, 200, "application/json", "{\"status\":\"ok\"}");
                    case "GET /metrics" -> send(response, callback, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.text());
                    case "GET /v1/models" -> send(response, callback, 200, "application/json", JSON.writeValueAsString(models()));
                    case "POST /v1/completions" -> status = complete(request, response, callback, false);
                    case "POST /v1/chat/completions" -> status = complete(request, response, callback, true);
                    case "POST /v1/load_lora_adapter" -> {
                        JsonNode body = body(request);
                        String name = text(body, "lora_name", true), lora = text(body, "lora_path", true);
                        adapters.load(name, lora);
                        send(response, callback, 200, "text/plain; charset=utf-8", "Success: LoRA adapter '" + name + "' added successfully.");
                    }
                    case "POST /v1/unload_lora_adapter" -> {
                        String name = text(body(request), "lora_name", true);
                        adapters.unload(name);
                        send(response, callback, 200, "text/plain; charset=utf-8", "Success: LoRA adapter '" + name + "' removed successfully.");
                    }
                    default -> throw new ApiError(path.startsWith("/v1/") || path.equals("/health") || path.equals("/metrics") ? 405 : 404,
                            "invalid_request_error", method + " " + path + " is not an endpoint of this server", null, null);
                }
            } catch (ApiError e) {
                status = e.status;
                error(response, callback, e);
            } catch (ContinuousBatcher.QueueFull e) {
                status = 429;
                error(response, callback, new ApiError(429, "rate_limit_error", e.getMessage(), null, "queue_full"));
            } catch (Lora4jException e) {
                status = e.getMessage().startsWith("no adapter named") ? 404 : 400;
                error(response, callback, new ApiError(status, "invalid_request_error", e.getMessage(), null,
                        status == 404 ? "model_not_found" : null));
            } catch (IOException e) {
                status = 400;
                error(response, callback, ApiError.invalid("the request could not be read: " + e.getMessage(), null));
            } catch (RuntimeException e) {
                status = 500;
                error(response, callback, new ApiError(500, "server_error", "internal error: " + e, null, null));
            }
            metrics.request(endpoint, status);
            return true;
        }
    }

    private ObjectNode models() {
        ObjectNode root = JSON.createObjectNode().put("object", "list");
        ArrayNode data = root.putArray("data");
        data.addObject().put("id", options.servedModelName()).put("object", "model").put("created", created).put("owned_by", "lora4j")
                .put("root", options.model().toString()).putNull("parent");
        for (String a : adapters.names())
            data.addObject().put("id", a).put("object", "model").put("created", created).put("owned_by", "lora4j")
                    .put("root", a).put("parent", options.servedModelName());
        return root;
    }

    /** /v1/completions and /v1/chat/completions: returns the HTTP status sent. */
    private int complete(Request request, Response response, Callback callback, boolean chat) throws IOException {
        JsonNode body = body(request);
        String model = text(body, "model", true);
        String adapter = model.equals(options.servedModelName()) ? null : model;
        if (adapter != null && !adapters.has(adapter))
            throw new ApiError(404, "invalid_request_error", "the model '" + model + "' does not exist (served: "
                    + options.servedModelName() + " and its adapters " + adapters.names() + ")", "model", "model_not_found");
        if (body.has("n") && !(body.get("n").canConvertToInt() && body.get("n").asInt() == 1))
            throw ApiError.invalid("n must be 1", "n");
        TextGenerator.Prompt prompt = chat ? chatPrompt(body) : textPrompt(body);
        boolean stream = bool(body, "stream", false);
        boolean includeUsage = body.path("stream_options").path("include_usage").asBoolean(false);
        var config = Params.generation(body, chat, batcher.capacity());
        LinkedBlockingQueue<String> pieces = new LinkedBlockingQueue<>();
        ContinuousBatcher.Ticket ticket;
        synchronized (adapters) { // the adapter cannot be evicted between being loaded and being taken by the request
            if (adapter != null) adapters.use(adapter);
            ticket = batcher.submit(new TextGenerator.Request(prompt, adapter, config, stream ? pieces::add : piece -> {}));
        }
        request.addFailureListener(failure -> ticket.cancel()); // the client went away
        String id = (chat ? "chatcmpl-" : "cmpl-") + Long.toHexString(System.nanoTime()) + ids.incrementAndGet();
        long deadline = System.nanoTime() + options.requestTimeout().toNanos();
        return stream ? stream(response, callback, ticket, pieces, id, model, chat, includeUsage, deadline)
                : whole(request, response, callback, ticket, id, model, chat, deadline);
    }

    private int whole(Request request, Response response, Callback callback, ContinuousBatcher.Ticket ticket, String id, String model, boolean chat,
                      long deadline) throws IOException {
        Completion c;
        try {
            while (true) {
                try {
                    c = ticket.result().get(Math.min(CLIENT_CHECK_NANOS, Math.max(1, deadline - System.nanoTime())), TimeUnit.NANOSECONDS);
                    break;
                } catch (TimeoutException e) {
                    if (System.nanoTime() >= deadline) throw e;
                    if (clientGone(request, response)) {
                        ticket.cancel(); // its slot is freed at the next step; nobody is left to answer
                        callback.failed(new IOException("the client closed the connection"));
                        return 499; // nginx's "client closed request", for the metrics
                    }
                }
            }
        } catch (TimeoutException e) {
            ticket.cancel();
            throw new ApiError(504, "timeout_error", "the request ran longer than --request-timeout " + options.requestTimeout().toSeconds() + " s", null, "timeout");
        } catch (InterruptedException | CancellationException e) {
            ticket.cancel();
            throw new ApiError(503, "server_error", "the request was cancelled (the server is stopping)", null, null);
        } catch (ExecutionException e) {
            throw new ApiError(500, "server_error", "generation failed: " + e.getCause(), null, null);
        }
        account(ticket, c);
        ObjectNode root = head(id, chat ? "chat.completion" : "text_completion", model);
        ObjectNode choice = root.putArray("choices").addObject().put("index", 0);
        if (chat) choice.putObject("message").put("role", "assistant").put("content", c.text());
        else choice.put("text", c.text()).putNull("logprobs");
        choice.put("finish_reason", reason(c));
        usage(root, c);
        send(response, callback, 200, "application/json", JSON.writeValueAsString(root));
        return 200;
    }

    /** How often a request waiting for its whole answer checks that its client is still there. */
    private static final long CLIENT_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    /**
     * Whether the client of a request that is not streamed has hung up. HTTP/1.1 says so only through the
     * socket, and Jetty does not read a connection while its request is being handled, so this reads it:
     * one byte, without blocking. End of input means the client is gone. A byte read belongs to a request
     * pipelined behind this one; the connection is then closed after this response (it cannot be put back).
     */
    private static boolean clientGone(Request request, Response response) {
        org.eclipse.jetty.io.EndPoint ep = request.getConnectionMetaData().getConnection().getEndPoint();
        if (!ep.isOpen() || ep.isInputShutdown()) return true;
        try {
            java.nio.ByteBuffer probe = java.nio.ByteBuffer.allocate(1);
            probe.limit(0);
            int n = ep.fill(probe);
            if (n > 0) response.getHeaders().put(HttpHeader.CONNECTION, "close");
            return n < 0;
        } catch (IOException e) {
            return true;
        }
    }

    private int stream(Response response, Callback callback, ContinuousBatcher.Ticket ticket, LinkedBlockingQueue<String> pieces, String id,
                       String model, boolean chat, boolean includeUsage, long deadline) {
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        String object = chat ? "chat.completion.chunk" : "text_completion";
        try {
            if (chat) event(response, chunk(id, object, model, JSON.createObjectNode().put("role", "assistant").put("content", ""), null, true));
            while (true) {
                String piece = pieces.poll(50, TimeUnit.MILLISECONDS);
                if (piece != null) {
                    event(response, chunk(id, object, model, chat ? JSON.createObjectNode().put("content", piece) : null, piece, chat));
                    continue;
                }
                if (ticket.result().isDone() && pieces.isEmpty()) break;
                if (System.nanoTime() > deadline) {
                    ticket.cancel();
                    ObjectNode err = JSON.createObjectNode();
                    err.putObject("error").put("message", "the request ran longer than --request-timeout").put("type", "timeout_error")
                            .putNull("param").put("code", "timeout");
                    event(response, err);
                    break;
                }
            }
            if (ticket.result().isDone() && !ticket.result().isCompletedExceptionally()) {
                Completion c = ticket.result().join();
                account(ticket, c);
                ObjectNode last = chunk(id, object, model, chat ? JSON.createObjectNode() : null, chat ? null : "", chat);
                ((ObjectNode) last.get("choices").get(0)).put("finish_reason", reason(c));
                event(response, last);
                if (includeUsage) {
                    ObjectNode u = head(id, object, model);
                    u.putArray("choices");
                    usage(u, c);
                    event(response, u);
                }
            } else if (ticket.result().isCompletedExceptionally() && !ticket.result().isCancelled()) {
                ObjectNode err = JSON.createObjectNode();
                err.putObject("error").put("message", "generation failed").put("type", "server_error").putNull("param").putNull("code");
                event(response, err);
            }
            write(response, "data: [DONE]\n\n");
            response.write(true, BufferUtil.EMPTY_BUFFER, callback);
        } catch (IOException | InterruptedException e) {
            ticket.cancel(); // the client went away (or the server stops): its slot is freed at the next step
            callback.failed(e);
        }
        return 200;
    }

    private void account(ContinuousBatcher.Ticket ticket, Completion c) {
        metrics.promptTokens.addAndGet(c.promptTokens());
        metrics.completionTokens.addAndGet(c.completionTokens());
        long ttft = ticket.timeToFirstTokenNanos();
        if (ttft > 0) metrics.timeToFirstToken.observe(ttft / 1e9);
    }

    private ObjectNode head(String id, String object, String model) {
        return JSON.createObjectNode().put("id", id).put("object", object).put("created", System.currentTimeMillis() / 1000).put("model", model);
    }

    private ObjectNode chunk(String id, String object, String model, ObjectNode delta, String text, boolean chat) {
        ObjectNode root = head(id, object, model);
        ObjectNode choice = root.putArray("choices").addObject().put("index", 0);
        if (chat) choice.set("delta", delta);
        else choice.put("text", text).putNull("logprobs");
        choice.putNull("finish_reason");
        return root;
    }

    private static void usage(ObjectNode root, Completion c) {
        root.putObject("usage").put("prompt_tokens", c.promptTokens()).put("completion_tokens", c.completionTokens())
                .put("total_tokens", c.promptTokens() + c.completionTokens());
    }

    private static String reason(Completion c) {
        return c.finishReason() == Generator.FinishReason.LENGTH ? "length" : "stop";
    }

    private static void event(Response response, ObjectNode json) throws IOException {
        write(response, "data: " + JSON.writeValueAsString(json) + "\n\n");
    }

    private static void write(Response response, String s) throws IOException {
        try (Blocker.Callback cb = Blocker.callback()) {
            response.write(false, BufferUtil.toBuffer(s.getBytes(StandardCharsets.UTF_8)), cb);
            cb.block();
        }
    }

    private static void send(Response response, Callback callback, int status, String type, String body) {
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
        Content.Sink.write(response, true, body, callback);
    }

    private static void error(Response response, Callback callback, ApiError e) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode err = root.putObject("error").put("message", e.getMessage()).put("type", e.type);
        if (e.param == null) err.putNull("param");
        else err.put("param", e.param);
        if (e.code == null) err.putNull("code");
        else err.put("code", e.code);
        try {
            send(response, callback, e.status, "application/json", JSON.writeValueAsString(root));
        } catch (IOException | RuntimeException failed) {
            callback.failed(failed); // headers already sent (a stream): nothing more can be said
        }
    }

    /** The request's JSON object, at most --max-body-bytes. */
    /** Bytes of a refused body read and dropped before the 413, at most. */
    private static final long DRAIN_BYTES = 64L << 20;

    /**
     * Reads and drops the rest of a refused body (up to {@link #DRAIN_BYTES}): a client still sending
     * it would otherwise have its connection reset under it and never see the 413.
     */
    private static void drain(InputStream in) throws IOException {
        long left = DRAIN_BYTES;
        byte[] sink = new byte[64 << 10];
        for (int n; left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) > 0; ) left -= n;
    }

    private JsonNode body(Request request) throws IOException {
        long declared = request.getLength();
        byte[] bytes;
        try (InputStream in = Content.Source.asInputStream(request)) {
            if (declared > options.maxBodyBytes()) {
                drain(in);
                throw new ApiError(413, "invalid_request_error", "the request body has " + declared + " bytes; at most " + options.maxBodyBytes() + " are accepted", null, null);
            }
            bytes = in.readNBytes(options.maxBodyBytes() + 1);
            if (bytes.length > options.maxBodyBytes()) {
                drain(in);
                throw new ApiError(413, "invalid_request_error", "the request body is over " + options.maxBodyBytes() + " bytes", null, null);
            }
        }
        JsonNode j;
        try {
            j = JSON.readTree(bytes);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ApiError.invalid("the body is not valid JSON: " + e.getOriginalMessage(), null);
        }
        if (j == null || !j.isObject()) throw ApiError.invalid("the body must be a JSON object", null);
        return j;
    }

    private static TextGenerator.Prompt textPrompt(JsonNode body) {
        JsonNode p = body.get("prompt");
        if (p == null || p.isNull()) throw ApiError.invalid("'prompt' is required", "prompt");
        if (p.isTextual()) return new TextGenerator.Prompt.Text(p.asText());
        if (p.isArray() && p.size() == 1 && (p.get(0).isTextual() || p.get(0).isArray())) p = p.get(0); // a batch of one
        if (p.isTextual()) return new TextGenerator.Prompt.Text(p.asText());
        if (p.isArray() && !p.isEmpty()) {
            int[] ids = new int[p.size()];
            for (int i = 0; i < ids.length; i++) {
                JsonNode n = p.get(i);
                if (!n.isIntegralNumber() || !n.canConvertToInt()) throw ApiError.invalid("'prompt' token ids must be integers, got " + n, "prompt");
                ids[i] = n.asInt();
            }
            return new TextGenerator.Prompt.Ids(ids);
        }
        throw ApiError.invalid("'prompt' must be a string, a list of token ids, or a list holding one of those", "prompt");
    }

    private static TextGenerator.Prompt chatPrompt(JsonNode body) {
        JsonNode ms = body.get("messages");
        if (ms == null || !ms.isArray() || ms.isEmpty()) throw ApiError.invalid("'messages' must be a non-empty list", "messages");
        List<dev.lora4j.tokenizer.ChatTemplate.Message> messages = new java.util.ArrayList<>();
        for (JsonNode m : ms) {
            String role = m.path("role").asText("");
            if (!List.of("system", "developer", "user", "assistant").contains(role))
                throw ApiError.invalid("each message needs a role of system, user or assistant, got " + m.path("role"), "messages");
            JsonNode content = m.get("content");
            StringBuilder text = new StringBuilder();
            if (content != null && content.isTextual()) text.append(content.asText());
            else if (content != null && content.isArray()) {
                for (JsonNode part : content) {
                    if (!part.path("type").asText().equals("text") || !part.path("text").isTextual())
                        throw ApiError.invalid("only text content parts are supported, got " + part.path("type"), "messages");
                    text.append(part.get("text").asText());
                }
            } else throw ApiError.invalid("each message needs a string 'content' (or text parts)", "messages");
            messages.add(new dev.lora4j.tokenizer.ChatTemplate.Message(role.equals("developer") ? "system" : role, text.toString()));
        }
        return new TextGenerator.Prompt.Chat(messages);
    }

    static String text(JsonNode body, String field, boolean required) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            if (required) throw ApiError.invalid("'" + field + "' is required", field);
            return null;
        }
        if (!v.isTextual()) throw ApiError.invalid("'" + field + "' must be a string, got " + v, field);
        return v.asText();
    }

    static boolean bool(JsonNode body, String field, boolean absent) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) return absent;
        if (!v.isBoolean()) throw ApiError.invalid("'" + field + "' must be true or false, got " + v, field);
        return v.asBoolean();
    }
}
