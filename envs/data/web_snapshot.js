// One DOM pass that numbers the visible interactive elements and collects page text within a budget.
// Runs via a single page.evaluate per observation (speed). Elements get data-am-id="<gen>-<n>" so an
// action can find exactly the element the agent saw, and a re-rendered page shows up as stale.
(opts) => {
  const gen = opts.gen;
  const maxEls = opts.maxElements;
  const nameChars = opts.nameChars;
  const textChars = opts.textChars;
  const ignoreSel = (opts.ignore || []).join(',');
  const clean = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const cut = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);
  const ROLES = new Set(['button', 'link', 'checkbox', 'radio', 'tab', 'menuitem', 'menuitemcheckbox',
    'menuitemradio', 'option', 'combobox', 'textbox', 'searchbox', 'switch', 'treeitem', 'slider',
    'spinbutton', 'listbox', 'gridcell']);
  const SEL = 'a[href],button,input,select,textarea,summary,[onclick],[contenteditable=""],' +
    '[contenteditable="true"],[tabindex]:not([tabindex="-1"]),' +
    [...ROLES].map((r) => '[role="' + r + '"]').join(',');
  const INLINE = new Set(['SPAN', 'A', 'B', 'I', 'EM', 'STRONG', 'LABEL', 'SMALL', 'CODE', 'U', 'FONT',
    'SUB', 'SUP', 'ABBR', 'MARK', 'S', 'TIME', 'BDI', 'Q', 'CITE']);
  document.querySelectorAll('[data-am-id]').forEach((e) => e.removeAttribute('data-am-id'));
  const body = document.body;
  if (!body) return { url: location.href, title: document.title, elements: [], text: '', truncated: false, ready: document.readyState };
  const visible = (el) => {
    if (!el.isConnected) return false;
    if (el.checkVisibility && !el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) return false;
    const b = el.getBoundingClientRect();
    return b.width > 0 && b.height > 0;
  };
  const roleOf = (el) => {
    const r = el.getAttribute('role');
    if (r && ROLES.has(r)) return r;
    const t = el.tagName.toLowerCase();
    if (t === 'a') return 'link';
    if (t === 'button' || t === 'summary') return 'button';
    if (t === 'select') return el.multiple ? 'listbox' : 'combobox';
    if (t === 'textarea') return 'textbox';
    if (t === 'input') {
      const ty = (el.type || 'text').toLowerCase();
      if (ty === 'hidden') return null;
      if (['button', 'submit', 'reset', 'image'].includes(ty)) return 'button';
      if (ty === 'checkbox' || ty === 'radio') return ty;
      if (ty === 'range') return 'slider';
      if (ty === 'number') return 'spinbutton';
      if (['date', 'time', 'datetime-local', 'month', 'week', 'color', 'file'].includes(ty)) return ty;
      return 'textbox';
    }
    if (el.isContentEditable) return 'textbox';
    return 'clickable';
  };
  const labelText = (el) => {
    if (el.labels && el.labels.length) return el.labels[0].innerText;
    const prev = el.previousElementSibling;
    if (prev && !prev.matches(SEL) && prev.innerText && prev.innerText.length < 60) return prev.innerText;
    const p = el.previousSibling;
    if (p && p.nodeType === 3 && clean(p.data).length < 60) return p.data;
    return '';
  };
  // Classes that say what state an element is in, not what it is: listed as its state, so a toggled
  // ".share" stays ".share" (as ".share.active" it read as another element, and was clicked off again).
  const STATE_CLASSES = new Set(['active', 'selected', 'checked', 'open', 'current']);
  const nameOf = (el, role) => {
    let n = el.getAttribute('aria-label') || '';
    const t = el.tagName;
    const field = t === 'INPUT' || t === 'SELECT' || t === 'TEXTAREA';
    if (!n && t === 'INPUT' && ['button', 'submit', 'reset'].includes((el.type || '').toLowerCase())) n = el.value;
    if (!n && field) n = labelText(el) || el.getAttribute('placeholder') || '';
    if (!n && !field) n = clean(el.innerText || el.textContent || '');  // whitespace alone names nothing
    if (!n) n = el.getAttribute('title') || el.getAttribute('alt') || el.getAttribute('name') || (el.id ? '#' + el.id : '');
    const classes = typeof el.className === 'string' ? el.className.trim().split(/\s+/).filter((c) => c && !STATE_CLASSES.has(c)) : [];
    if (!n && classes.length) {
      n = '.' + classes.slice(0, 2).join('.');
      // A box told apart only by its colour (".color" swatches): the colour as the page wrote it.
      const bg = el.style && el.style.backgroundColor;
      if (bg) n += ' ' + bg;
    }
    if (!n && el instanceof SVGElement) n = el.tagName + (el.getAttribute('fill') ? ' fill=' + el.getAttribute('fill') : '');
    if (!n && role === 'clickable') {
      const bg = getComputedStyle(el).backgroundColor;
      if (bg && bg !== 'rgba(0, 0, 0, 0)') n = 'color ' + bg;
    }
    return clean(n);
  };
  const elements = [];
  const nodes = [];
  let total = 0;
  const all = body.getElementsByTagName('*');
  for (let i = 0; i < all.length; i++) {
    const el = all[i];
    const flagged = el.__amClick === true || typeof el.onclick === 'function';
    if (!flagged && !el.matches(SEL)) continue;
    if (ignoreSel && el.closest(ignoreSel)) continue;
    if (!visible(el)) continue;
    const role = roleOf(el);
    if (!role) continue;
    total++;
    if (elements.length >= maxEls) continue;
    const full = nameOf(el, role);
    const item = { id: elements.length + 1, role: role, name: cut(full, nameChars), tag: el.tagName.toLowerCase(), state: [] };
    item.leaf = full.length <= nameChars;
    if (el.tagName === 'SELECT') {
      const o = el.options[el.selectedIndex];
      item.value = o ? clean(o.text) : '';
      item.options = [...el.options].slice(0, 12).map((x) => cut(clean(x.text), 30));
    } else if ((el.tagName === 'INPUT' && !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(el.type)) || el.tagName === 'TEXTAREA') {
      item.value = cut(el.value || '', nameChars);
    } else if (el.isContentEditable) {
      item.value = cut(clean(el.innerText), nameChars);
    }
    if (el.checked === true || el.getAttribute('aria-checked') === 'true') item.state.push('checked');
    if (el.disabled === true || el.getAttribute('aria-disabled') === 'true') item.state.push('disabled');
    if (el.readOnly === true || el.getAttribute('aria-readonly') === 'true') item.state.push('readonly');
    if (el.getAttribute('aria-expanded') === 'true') item.state.push('expanded');
    if (el.getAttribute('aria-selected') === 'true') item.state.push('selected');
    if (document.activeElement === el) item.state.push('focused');
    for (const c of el.classList || []) if (STATE_CLASSES.has(c) && !item.state.includes(c)) item.state.push(c);
    el.setAttribute('data-am-id', gen + '-' + item.id);
    elements.push(item);
    nodes.push(el);
  }
  // Elements that role and name cannot tell apart (a ".star" icon in every inbox row, three unnamed
  // text boxes) get what sets each apart: their place among them (nth) and the text of their row,
  // the largest enclosing block that holds no other of them (near). Without it neither the model
  // nor a replayed exemplar can pick "the star of the email by Karlen" or "the 3rd text box".
  const groups = new Map();
  elements.forEach((it, i) => {
    const key = it.role + '\u0000' + it.name;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(i);
  });
  for (const idx of groups.values()) {
    if (idx.length < 2) continue;
    const members = idx.map((i) => nodes[i]);
    idx.forEach((i, rank) => {
      const el = nodes[i];
      let row = el;
      while (row.parentElement && row.parentElement !== body &&
             !members.some((m) => m !== el && row.parentElement.contains(m))) row = row.parentElement;
      let near = row === el ? '' : clean(row.innerText || row.textContent || '');
      const own = clean(el.innerText || '');
      if (own && near.startsWith(own)) near = clean(near.slice(own.length));
      elements[i].nth = rank + 1;
      if (near) elements[i].near = cut(near, opts.nearChars || 40);
    });
  }
  // Page text: visible text nodes, in document order, skipping what the element list already shows.
  const chunks = [];
  let size = 0;
  let truncated = false;
  let lastBlock = null;
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const txt = clean(node.data);
    if (!txt) continue;
    const parent = node.parentElement;
    if (!parent || ['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEXTAREA', 'OPTION'].includes(parent.tagName)) continue;
    if (ignoreSel && parent.closest(ignoreSel)) continue;
    const marked = parent.closest('[data-am-id]');
    if (marked) {
      const it = elements[parseInt(marked.getAttribute('data-am-id').split('-')[1], 10) - 1];
      if (it && it.leaf) continue;
    }
    if (parent.checkVisibility && !parent.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    let block = parent;
    while (block && INLINE.has(block.tagName)) block = block.parentElement;
    const sep = chunks.length === 0 ? '' : (block === lastBlock ? ' ' : '\n');
    lastBlock = block;
    if (size + sep.length + txt.length > textChars) {
      const room = textChars - size - sep.length;
      if (room > 20) chunks.push(sep + txt.slice(0, room) + '…');
      truncated = true;
      break;
    }
    chunks.push(sep + txt);
    size += sep.length + txt.length;
  }
  elements.forEach((e) => delete e.leaf);
  return {
    url: location.href, title: document.title, elements: elements, total: total,
    text: chunks.join(''), truncated: truncated, ready: document.readyState,
  };
}
