package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Chat templates rendered by Jinjava equal @huggingface/jinja's renderings (reference/tokenizers/make_chat_fixtures.js). */
class ChatTemplateTest {
    @TempDir
    Path tmp;

    @Test
    void rendersLikeHuggingFaceJinja() throws IOException {
        Path dir = TestPaths.fixture("chat");
        JsonNode cases = new ObjectMapper().readTree(dir.resolve("cases.json").toFile());
        assertThat(cases.size()).isEqualTo(35);
        int refusals = 0;
        for (JsonNode c : cases) {
            String name = c.get("template").asText();
            ChatTemplate t = new ChatTemplate(Files.readString(dir.resolve(name + ".jinja")), name, "<s>", "</s>");
            List<ChatTemplate.Message> messages = new ArrayList<>();
            for (JsonNode m : c.get("messages")) messages.add(new ChatTemplate.Message(m.get("role").asText(), m.get("content").asText()));
            boolean gen = c.get("add_generation_prompt").asBoolean();
            if (c.get("error").isNull()) {
                assertThat(t.render(messages, gen)).as("%s over %s", name, messages).isEqualTo(c.get("rendered").asText());
            } else {
                refusals++;
                assertThatThrownBy(() -> t.render(messages, gen)).isInstanceOf(Lora4jException.class)
                        .hasMessageContainingAll(name, c.get("error").asText());
            }
        }
        assertThat(refusals).isEqualTo(2);
    }

    @Test
    void readsTokenizerConfigAndOverrides() throws IOException {
        Files.writeString(tmp.resolve("tokenizer_config.json"), """
                {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
                 "chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"}]}""");
        ChatTemplate t = ChatTemplate.ofModel(tmp, null);
        assertThat(t.render(List.of(new ChatTemplate.Message("user", "hi")), false)).isEqualTo("<s>hi</s>");
        Path file = tmp.resolve("mine.jinja");
        Files.writeString(file, "[{{ messages | length }}]{% if add_generation_prompt %}>{% endif %}");
        assertThat(ChatTemplate.ofModel(tmp, file).render(List.of(new ChatTemplate.Message("user", "hi")), true)).isEqualTo("[1]>");
        Files.writeString(tmp.resolve("tokenizer_config.json"), "{}");
        assertThat(ChatTemplate.ofModel(tmp, null)).isNull();
    }

    @Test
    void loopFiltersAreRefusedNotMisrendered() {
        assertThatThrownBy(() -> new ChatTemplate("{% for m in messages if m.role != 'system' %}{{ m.content }}{% endfor %}", "t.jinja", "", ""))
                .isInstanceOf(Lora4jException.class).hasMessageContainingAll("t.jinja", "filters a loop");
    }

    @Test
    void brokenTemplatesNameTheSource() {
        ChatTemplate t = new ChatTemplate("{% for m in messages %}{{ m.content }", "bad.jinja", "", "");
        assertThatThrownBy(() -> t.render(List.of(new ChatTemplate.Message("user", "hi")), false))
                .isInstanceOf(Lora4jException.class).hasMessageContaining("bad.jinja");
    }
}
