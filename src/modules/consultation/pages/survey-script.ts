/**
 * The questionnaire's progressive enhancement (served as /concertations/assets/questionnaire.js):
 * a conditional question is hidden while its conditions fail and shown as soon as they hold, with
 * the same rules as the server (`conditionsHold` in survey.ts, evaluated in order: a hidden
 * question counts as not answered for the questions after it). Hidden questions' fields are
 * disabled, so they are not sent; the server drops them anyway. A polite live region says which
 * question appeared or disappeared. Without JavaScript every question shows and says in words when
 * it applies.
 */
export const SURVEY_SCRIPT = `
const form = document.querySelector('form[data-survey]');
if (form) {
  const questions = [...form.querySelectorAll('[data-question]')];
  const live = form.querySelector('[data-survey-live]');
  const EMPTY = { answered: false, options: [], text: '' };
  const read = (el) => {
    const type = el.dataset.type;
    if (type === 'short' || type === 'long') {
      const f = el.querySelector('input[type=text], textarea');
      const text = f ? f.value.trim() : '';
      return { answered: text !== '', options: [], text };
    }
    if (type === 'single' || type === 'multiple') {
      const boxes = [...el.querySelectorAll('input[type=radio], input[type=checkbox]')];
      const options = boxes.flatMap((b, i) => (b.checked ? [type === 'single' ? Number(b.value) : i] : []));
      return { answered: options.length > 0, options, text: '' };
    }
    if (type === 'sorting') return { answered: [...el.querySelectorAll('select')].some((s) => s.value !== ''), options: [], text: '' };
    if (type === 'file') { const f = el.querySelector('input[type=file]'); return { answered: !!(f && f.files && f.files.length), options: [], text: '' }; }
    return { answered: [...el.querySelectorAll('input')].some((i) => i.checked), options: [], text: '' };
  };
  const holds = (conditions, answers) => conditions.every((c) => {
    const v = answers.get(c.question) || EMPTY;
    switch (c.op) {
      case 'answered': return v.answered;
      case 'not_answered': return !v.answered;
      case 'equal': return v.options.includes(c.option);
      case 'not_equal': return !v.options.includes(c.option);
      case 'match': return v.text.toLocaleLowerCase('fr').includes(c.text);
      default: return true;
    }
  });
  let first = true;
  const update = () => {
    const answers = new Map();
    const said = [];
    for (const el of questions) {
      let conditions = [];
      try { conditions = JSON.parse(el.dataset.conditions || '[]'); } catch { conditions = []; }
      const show = holds(conditions, answers);
      if (el.hidden === show) {
        el.hidden = !show;
        for (const f of el.querySelectorAll('input, select, textarea')) f.disabled = !show;
        if (!first) said.push((show ? 'Question affichée : ' : 'Question masquée : ') + el.dataset.label);
      }
      answers.set(el.dataset.question, show ? read(el) : EMPTY);
    }
    first = false;
    if (live && said.length) live.textContent = said.join('. ') + '.';
  };
  form.addEventListener('input', update);
  form.addEventListener('change', update);
  update();
}
`;
