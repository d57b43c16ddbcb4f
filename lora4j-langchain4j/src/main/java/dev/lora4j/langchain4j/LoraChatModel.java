package dev.lora4j.langchain4j;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import dev.lora4j.generate.Completion;
import dev.lora4j.generate.GenerationConfig;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.TextGenerator;
import dev.lora4j.generate.TextListener;
import dev.lora4j.tokenizer.ChatTemplate;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;

/**
 * A LangChain4j {@link ChatModel} and {@link StreamingChatModel} answered by a lora4j model in this JVM,
 * optionally with a LoRA adapter: a LangChain4j application uses a LoRA-tuned model with no server.
 * <pre>{@code
 * ChatModel model = LoraChatModel.builder().model(Path.of("models/SmolLM2-135M-Instruct")).adapter(Path.of("runs/mine")).build();
 * String answer = model.chat("What is LoRA?");
 * }</pre>
 * The conversation goes through the model's chat template. Request parameters honoured: temperature (0,
 * the default, is greedy), top-p, top-k, max output tokens, stop sequences; the seed comes from the
 * builder. Tools, JSON response formats and frequency or presence penalties are refused with
 * {@link UnsupportedFeatureException}. Thread-safe: one instance serves any number of threads. Streaming
 * runs on the builder's executor (a virtual thread a request by default) and hands over text in whole
 * characters.
 */
public final class LoraChatModel implements ChatModel, StreamingChatModel, AutoCloseable {
    private static final String ADAPTER = "adapter";

    private final TextGenerator generator;
    private final boolean ownsGenerator;
    private final String adapter;   // null: the base alone
    private final String modelName;
    private final long seed;
    private final ChatRequestParameters defaults;
    private final Executor executor;

    private LoraChatModel(Builder b) {
        if ((b.generator == null) == (b.model == null)) throw new IllegalArgumentException("give the model directory or a TextGenerator, one of them");
        ownsGenerator = b.generator == null;
        TextGenerator g = b.generator;
        if (g == null) {
            TextGenerator.Builder gb = TextGenerator.builder(b.model).chatTemplate(b.chatTemplate);
            if (b.adapterDir != null) gb.adapter(ADAPTER, b.adapterDir);
            g = gb.build();
        }
        generator = g;
        adapter = b.adapterDir != null ? ADAPTER : b.adapterName;
        if (adapter != null && !generator.adapters().contains(adapter))
            throw new IllegalArgumentException("no adapter named '" + adapter + "' (loaded: " + generator.adapters() + ")");
        if (generator.chatTemplate() == null)
            throw new IllegalArgumentException("the model has no chat template (tokenizer_config.json's chat_template); give one with chatTemplate(file)");
        modelName = b.modelName != null ? b.modelName
                : b.adapterDir != null ? b.adapterDir.getFileName().toString()
                : b.adapterName != null ? b.adapterName
                : b.model != null ? b.model.getFileName().toString() : "lora4j";
        seed = b.seed;
        defaults = ChatRequestParameters.builder().modelName(modelName).temperature(0.0).maxOutputTokens(256)
                .build().overrideWith(b.defaults == null ? ChatRequestParameters.builder().build() : b.defaults);
        executor = b.executor != null ? b.executor : task -> Thread.ofVirtual().name("lora4j-chat").start(task);
    }

    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private Path model, adapterDir, chatTemplate;
        private TextGenerator generator;
        private String adapterName, modelName;
        private long seed;
        private ChatRequestParameters defaults;
        private Executor executor;

        private Builder() {}

        /** The Hugging Face model directory to load (the chat model then owns it and closes it). */
        public Builder model(Path dir) {
            model = dir;
            return this;
        }

        /** A PEFT adapter directory to answer with. */
        public Builder adapter(Path dir) {
            adapterDir = dir;
            return this;
        }

        /** Answer with a generator that is already loaded (shared, not closed here), and one of its adapters (null: the base). */
        public Builder generator(TextGenerator g, String adapterName) {
            generator = g;
            this.adapterName = adapterName;
            return this;
        }

        /** A Jinja chat template file, instead of tokenizer_config.json's. */
        public Builder chatTemplate(Path file) {
            chatTemplate = file;
            return this;
        }

        /** The name responses carry (default: the adapter's or the model's directory name). */
        public Builder modelName(String name) {
            modelName = name;
            return this;
        }

        /** The sampling seed of every request (default 0): the same request gets the same answer. */
        public Builder seed(long s) {
            seed = s;
            return this;
        }

        /** Parameters for requests that do not set them (defaults: temperature 0, 256 output tokens). */
        public Builder defaultRequestParameters(ChatRequestParameters p) {
            defaults = p;
            return this;
        }

        /** Where streaming requests run (default: a new virtual thread each). */
        public Builder executor(Executor e) {
            executor = e;
            return this;
        }

        public LoraChatModel build() {
            return new LoraChatModel(this);
        }
    }

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return defaults;
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    /** None of LangChain4j's optional capabilities (JSON schema responses): plain text chat. */
    @Override
    public java.util.Set<dev.langchain4j.model.chat.Capability> supportedCapabilities() {
        return java.util.Set.of();
    }

    @Override
    public List<dev.langchain4j.model.chat.listener.ChatModelListener> listeners() {
        return List.of();
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        return respond(request, TextListener.NONE);
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        executor.execute(() -> {
            ChatResponse response;
            try {
                response = respond(request, handler::onPartialResponse);
            } catch (RuntimeException | Error e) {
                handler.onError(e);
                return;
            }
            handler.onCompleteResponse(response);
        });
    }

    private ChatResponse respond(ChatRequest request, TextListener listener) {
        ChatRequestParameters p = request.parameters();
        refuseUnsupported(p);
        GenerationConfig.Builder config = GenerationConfig.builder().seed(seed);
        if (p.temperature() != null) config.temperature(p.temperature());
        if (p.topP() != null) config.topP(p.topP());
        if (p.topK() != null) config.topK(p.topK());
        if (p.maxOutputTokens() != null) config.maxNewTokens(p.maxOutputTokens());
        if (p.stopSequences() != null) config.stopStrings(p.stopSequences());
        Completion c = generator.generate(TextGenerator.Request.chat(messages(request.messages())).adapter(adapter)
                .config(config.build()).listener(listener));
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(c.text()))
                .tokenUsage(new TokenUsage(c.promptTokens(), c.completionTokens()))
                .finishReason(c.finishReason() == Generator.FinishReason.LENGTH ? FinishReason.LENGTH : FinishReason.STOP)
                .modelName(p.modelName() != null ? p.modelName() : modelName)
                .build();
    }

    private static void refuseUnsupported(ChatRequestParameters p) {
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty())
            throw new UnsupportedFeatureException("lora4j models do not call tools");
        if (p.responseFormat() != null && p.responseFormat().type() == ResponseFormatType.JSON)
            throw new UnsupportedFeatureException("lora4j models do not constrain output to JSON");
        if (p.frequencyPenalty() != null && p.frequencyPenalty() != 0)
            throw new UnsupportedFeatureException("frequency penalty is not supported (lora4j has transformers' repetition penalty)");
        if (p.presencePenalty() != null && p.presencePenalty() != 0)
            throw new UnsupportedFeatureException("presence penalty is not supported (lora4j has transformers' repetition penalty)");
    }

    /** LangChain4j's messages as chat template turns: system, user and assistant text. */
    static List<ChatTemplate.Message> messages(List<ChatMessage> messages) {
        List<ChatTemplate.Message> turns = new ArrayList<>();
        for (ChatMessage m : messages) {
            turns.add(switch (m) {
                case SystemMessage s -> new ChatTemplate.Message("system", s.text());
                case UserMessage u -> {
                    if (!u.hasSingleText()) throw new UnsupportedFeatureException("lora4j models take text only; this user message holds " + u.contents());
                    yield new ChatTemplate.Message("user", u.singleText());
                }
                case AiMessage a -> {
                    if (a.hasToolExecutionRequests()) throw new UnsupportedFeatureException("lora4j models do not call tools");
                    yield new ChatTemplate.Message("assistant", a.text() == null ? "" : a.text());
                }
                default -> throw new UnsupportedFeatureException("lora4j models take system, user and assistant messages, not " + m.type());
            });
        }
        return turns;
    }

    /** Closes the model when this chat model loaded it. */
    @Override
    public void close() {
        if (ownsGenerator) generator.close();
    }
}
