package dev.lora4j.generate;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.Transformer;
import dev.lora4j.tokenizer.ChatTemplate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The text-in, text-out API on the bundled model with random adapters: threads, ragged batches, streaming, stops. */
class TextGeneratorTest {
    static TextGenerator g;

    @BeforeAll
    static void load() {
        g = TextGenerator.load(dev.lora4j.TestPaths.bundledModel());
        for (int k = 0; k < 3; k++) g.addAdapter("a" + k, randomAdapter(g.base(), 10 + k));
    }

    @AfterAll
    static void close() {
        g.close();
    }

    /** A LoRA adapter on q_proj and v_proj whose B is not zero, so that it changes the output. */
    static LoraModel randomAdapter(Transformer base, long seed) {
        LoraConfig cfg = LoraConfig.builder().r(4).alpha(8).targets("q_proj,v_proj").build();
        LoraModel m = LoraModel.inject(base, cfg, seed);
        SplittableRandom r = new SplittableRandom(seed + 1);
        for (LoraLinear l : m.modules().values()) for (int i = 0; i < l.b().length; i++) l.b()[i] = (float) r.nextDouble(-1, 1);
        return m;
    }

    static List<TextGenerator.Request> requests() {
        String[] prompts = {"Once upon a time", "Tom looks at Anna", "The dog", "Lily and her mom went to the park. They saw a big",
                "Ben", "One day, a little bird", "Sue likes to play with her ball", "It was a sunny day."};
        String[] adapters = {null, "a0", "a1", "a2"};
        List<TextGenerator.Request> rs = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            GenerationConfig c = GenerationConfig.builder().maxNewTokens(12 + i % 5)
                    .temperature(i % 2 == 0 ? 0 : 0.9).topK(i % 3 == 0 ? 20 : 0).topP(i % 4 == 1 ? 0.9 : 1).seed(i).build();
            rs.add(TextGenerator.Request.text(prompts[i % prompts.length]).adapter(adapters[i % adapters.length]).config(c));
        }
        return rs;
    }

    @Test
    void eightThreadsWithMixedAdaptersGetWhatOneThreadGets() throws Exception {
        List<TextGenerator.Request> rs = requests();
        List<Completion> alone = new ArrayList<>();
        for (TextGenerator.Request r : rs) alone.add(g.generate(r));
        // the adapters matter: the same prompts and settings on the base alone give other text
        long differ = 0;
        for (int i = 0; i < rs.size(); i++) if (!g.generate(rs.get(i).adapter(null)).text().equals(alone.get(i).text())) differ++;
        assertThat(differ).isGreaterThanOrEqualTo(rs.size() / 2);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            for (int round = 0; round < 2; round++) {
                List<Future<Completion>> futures = new ArrayList<>();
                for (TextGenerator.Request r : rs) futures.add(pool.submit(() -> g.generate(r)));
                for (int i = 0; i < rs.size(); i++) {
                    Completion c = futures.get(i).get(60, TimeUnit.SECONDS);
                    assertThat(c.ids()).as("request %d, round %d", i, round).containsExactly(alone.get(i).ids());
                    assertThat(c.text()).isEqualTo(alone.get(i).text());
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aRaggedBatchGivesEachRequestWhatItGetsAlone() {
        List<TextGenerator.Request> rs = requests();
        List<Completion> together = g.generate(rs);
        for (int i = 0; i < rs.size(); i++) {
            Completion alone = g.generate(rs.get(i));
            assertThat(together.get(i).ids()).as("request %d", i).containsExactly(alone.ids());
            assertThat(together.get(i).promptTokens()).isEqualTo(alone.promptTokens());
        }
    }

    @Test
    void streamedPiecesAreWholeCharactersAndMakeTheText() {
        for (int seed = 0; seed < 6; seed++) {
            StringBuilder streamed = new StringBuilder();
            List<String> pieces = new ArrayList<>();
            GenerationConfig c = GenerationConfig.builder().maxNewTokens(40).temperature(1.5).seed(seed).build();
            Completion done = g.generate(TextGenerator.Request.text("Once upon a time, é").adapter("a1").config(c).listener(p -> {
                pieces.add(p);
                streamed.append(p);
            }));
            assertThat(streamed.toString()).isEqualTo(done.text());
            for (String p : pieces) assertThat(p).isNotEmpty().doesNotEndWith("\uFFFD");
            assertThat(done.completionTokens()).isEqualTo(done.ids().length).isPositive();
        }
    }

    @Test
    void stopStringsEndTheTextShortOfThem() {
        Completion free = g.generate("Once upon a time", GenerationConfig.builder().maxNewTokens(30).build());
        String text = free.text();
        assertThat(text.length()).isGreaterThan(6);
        String stop = text.substring(3, 6);
        StringBuilder streamed = new StringBuilder();
        Completion cut = g.generate(TextGenerator.Request.text("Once upon a time").config(GenerationConfig.builder().maxNewTokens(30).stop(stop).build())
                .listener(streamed::append));
        assertThat(cut.text()).isEqualTo(text.substring(0, text.indexOf(stop)));
        assertThat(streamed.toString()).isEqualTo(cut.text());
        assertThat(cut.finishReason()).isEqualTo(Generator.FinishReason.STOP);
        assertThat(free.finishReason()).isIn(Generator.FinishReason.LENGTH, Generator.FinishReason.STOP);
        Completion capped = g.generate("Once upon a time", GenerationConfig.builder().maxNewTokens(3).eosIds(List.of()).build());
        assertThat(capped.ids()).hasSize(3);
        assertThat(capped.finishReason()).isEqualTo(Generator.FinishReason.LENGTH);
    }

    @Test
    void theModelsEndOfSequenceIdsEndIt() {
        int eos = g.eosIds().getFirst();
        Completion c = g.generate(TextGenerator.Request.text("Once upon a time").config(GenerationConfig.builder().maxNewTokens(400).build()));
        if (c.finishReason() == Generator.FinishReason.STOP) assertThat(c.ids()[c.ids().length - 1]).isEqualTo(eos);
        assertThat(c.text()).doesNotContain(g.tokenizer().decode(new int[] {eos}));
    }

    @Test
    void chatGoesThroughTheTemplateOrSaysThereIsNone() {
        if (g.chatTemplate() == null) {
            assertThatThrownBy(() -> g.chat(List.of(new ChatTemplate.Message("user", "hi")), GenerationConfig.DEFAULT))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("chat_template");
        } else {
            assertThat(g.chat(List.of(new ChatTemplate.Message("user", "hi")), GenerationConfig.builder().maxNewTokens(5).build()).ids()).isNotEmpty();
        }
    }

    @Test
    void adaptersComeAndGoWhileServing() {
        g.addAdapter("late", randomAdapter(g.base(), 99));
        Completion withLate = g.generate(TextGenerator.Request.text("The dog").adapter("late").config(GenerationConfig.builder().maxNewTokens(8).build()));
        assertThat(withLate.ids()).isNotEmpty();
        g.unloadAdapter("late");
        assertThatThrownBy(() -> g.generate(TextGenerator.Request.text("The dog").adapter("late"))).isInstanceOf(Lora4jException.class)
                .hasMessageContaining("no adapter named 'late'");
        assertThatThrownBy(() -> GenerationConfig.builder().temperature(Double.NaN).build()).isInstanceOf(Lora4jException.class)
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> GenerationConfig.builder().topP(0).build()).hasMessageContaining("topP");
    }
}
