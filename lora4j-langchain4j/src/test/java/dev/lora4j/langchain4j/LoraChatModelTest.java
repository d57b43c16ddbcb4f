package dev.lora4j.langchain4j;

import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import dev.lora4j.TestPaths;
import dev.lora4j.generate.GenerationConfig;
import dev.lora4j.generate.TextGenerator;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Transformer;
import dev.lora4j.tokenizer.ChatTemplate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The bundled model with a LoRA adapter, talked to through LangChain4j's own interfaces. */
class LoraChatModelTest {
    @TempDir
    static Path tmp;
    static Path template, adapter;
    static LoraChatModel model;

    @BeforeAll
    static void setUp() throws Exception {
        template = Path.of(LoraChatModelTest.class.getResource("/chatml.jinja").toURI());
        adapter = tmp.resolve("adapter");
        try (Transformer base = Transformer.load(TestPaths.bundledModel())) { // an adapter that changes the answers
            LoraModel m = LoraModel.inject(base, LoraConfig.builder().r(4).alpha(8).targets("q_proj,v_proj").build(), 3);
            SplittableRandom r = new SplittableRandom(4);
            for (LoraLinear l : m.modules().values()) for (int i = 0; i < l.b().length; i++) l.b()[i] = (float) r.nextDouble(-1, 1);
            PeftAdapter.save(adapter, m, TestPaths.bundledModel().toString());
        }
        model = LoraChatModel.builder().model(TestPaths.bundledModel()).adapter(adapter).chatTemplate(template).build();
    }

    @AfterAll
    static void tearDown() {
        model.close();
    }

    /** What lora4j itself answers to the same conversation, with or without the adapter. */
    static String direct(String adapterDir, GenerationConfig config, ChatTemplate.Message... turns) {
        TextGenerator.Builder b = TextGenerator.builder(TestPaths.bundledModel()).chatTemplate(template);
        if (adapterDir != null) b.adapter("a", Path.of(adapterDir));
        try (TextGenerator g = b.build()) {
            return g.generate(TextGenerator.Request.chat(List.of(turns)).adapter(adapterDir == null ? null : "a").config(config)).text();
        }
    }

    @Test
    void chatAnswersAsLora4jDoesWithTheAdapter() {
        ChatModel chat = model;
        ChatResponse r = chat.chat(ChatRequest.builder().messages(SystemMessage.from("Tell a story."), UserMessage.from("Tom sees a dog."))
                .maxOutputTokens(20).build());
        GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(20).build();
        var sys = new ChatTemplate.Message("system", "Tell a story.");
        var user = new ChatTemplate.Message("user", "Tom sees a dog.");
        assertThat(r.aiMessage().text()).isEqualTo(direct(adapter.toString(), greedy, sys, user)).isNotEqualTo(direct(null, greedy, sys, user));
        assertThat(r.tokenUsage().outputTokenCount()).isBetween(1, 20);
        assertThat(r.tokenUsage().inputTokenCount()).isPositive();
        assertThat(r.modelName()).isEqualTo("adapter");
        assertThat(chat.chat("Once upon a time")).isNotNull();
    }

    @Test
    void parametersAreHonoured() {
        ChatResponse three = model.chat(ChatRequest.builder().messages(UserMessage.from("Lily")).maxOutputTokens(3).build());
        assertThat(three.tokenUsage().outputTokenCount()).isLessThanOrEqualTo(3);
        if (three.tokenUsage().outputTokenCount() == 3) assertThat(three.finishReason()).isEqualTo(FinishReason.LENGTH);
        List<String> hot = new ArrayList<>();
        for (int i = 0; i < 3; i++)
            hot.add(model.chat(ChatRequest.builder().messages(UserMessage.from("Lily")).temperature(1.5).maxOutputTokens(30).build()).aiMessage().text());
        String greedy = model.chat(ChatRequest.builder().messages(UserMessage.from("Lily")).temperature(0.0).maxOutputTokens(30).build()).aiMessage().text();
        assertThat(hot).allMatch(hot.getFirst()::equals); // one seed: the same sample
        assertThat(hot.getFirst()).isNotEqualTo(greedy);
        String full = model.chat(ChatRequest.builder().messages(UserMessage.from("Lily")).maxOutputTokens(30).build()).aiMessage().text();
        assertThat(full.length()).isGreaterThan(4);
        String stop = full.substring(2, 4);
        ChatResponse cut = model.chat(ChatRequest.builder().messages(UserMessage.from("Lily")).maxOutputTokens(30).stopSequences(List.of(stop)).build());
        assertThat(cut.aiMessage().text()).isEqualTo(full.substring(0, full.indexOf(stop)));
        assertThat(cut.finishReason()).isEqualTo(FinishReason.STOP);
        assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from("x")).frequencyPenalty(0.5).build()))
                .isInstanceOf(UnsupportedFeatureException.class);
    }

    @Test
    void streamingHandsOverPiecesThenTheWholeResponse() throws Exception {
        StreamingChatModel streaming = model;
        StringBuilder pieces = new StringBuilder();
        List<String> parts = new ArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from("Tom looks at Anna")).maxOutputTokens(25).build(), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                parts.add(partial);
                pieces.append(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertThat(parts).isNotEmpty();
        assertThat(pieces.toString()).isEqualTo(r.aiMessage().text());
        assertThat(r.aiMessage().text()).isEqualTo(model.chat(ChatRequest.builder().messages(UserMessage.from("Tom looks at Anna")).maxOutputTokens(25).build())
                .aiMessage().text());
        CompletableFuture<Throwable> failed = new CompletableFuture<>();
        streaming.chat(ChatRequest.builder().messages(UserMessage.from("x")).presencePenalty(1.0).build(), new StreamingChatResponseHandler() {
            @Override
            public void onCompleteResponse(ChatResponse response) {
                failed.complete(null);
            }

            @Override
            public void onError(Throwable error) {
                failed.complete(error);
            }
        });
        assertThat(failed.get(60, TimeUnit.SECONDS)).isInstanceOf(UnsupportedFeatureException.class);
    }

    interface Storyteller {
        String tell(String beginning);
    }

    @Test
    void anAiServiceRunsOnIt() {
        Storyteller s = AiServices.create(Storyteller.class, (ChatModel) model);
        assertThat(s.tell("Once upon a time")).isEqualTo(model.chat("Once upon a time"));
    }
}
