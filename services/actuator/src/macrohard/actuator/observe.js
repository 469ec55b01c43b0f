// The observer: stamps stable ids (data-mh-id) and lists interactive and text elements.
// Called by observer.py with [maxRaw, maxText, maxShapes]; compaction and priorities live in
// domain.py.
([maxRaw, maxText, maxShapes]) => {
  const ATTR = 'data-mh-id';
  if (!window.__mhNextId) window.__mhNextId = 1;
  // JavaScript strings are UTF-16: a page may hold lone surrogates, and a cut at maxText can
  // fall between the two halves of an emoji. Either is not valid Unicode and cannot be
  // encoded on the way out, so strings are made well-formed and cut on a code point.
  const wellFormed = s => s.toWellFormed ? s.toWellFormed() : s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  const cut = s => {
    if (s.length <= maxText) return s;
    const head = s.slice(0, maxText);
    return /[\uD800-\uDBFF]$/.test(head) ? head.slice(0, -1) : head;
  };
  const clip = s => cut(wellFormed((s || '').replace(/\s+/g, ' ').trim()));
  // A field's value as typed: its spaces and line breaks are part of it (copying it must
  // give the same text back), so only the length is bounded.
  const clipValue = s => cut(wellFormed(s || ''));
  // The end of a value too long to keep whole, cut on a code point like its beginning.
  const valueEnd = s => {
    s = wellFormed(s || '');
    if (s.length <= maxText) return '';
    const tail = s.slice(-maxText);
    return /^[\uDC00-\uDFFF]/.test(tail) ? tail.slice(1) : tail;
  };
  const TAG_ROLE = {A: 'link', BUTTON: 'button', SELECT: 'combobox', TEXTAREA: 'textbox',
    OPTION: 'option', SUMMARY: 'button', IMG: 'img', H1: 'heading', H2: 'heading', H3: 'heading',
    H4: 'heading', H5: 'heading', H6: 'heading', LI: 'listitem', LABEL: 'label', TD: 'cell',
    TH: 'columnheader', P: 'paragraph', DIALOG: 'dialog'};
  const INPUT_ROLE = {checkbox: 'checkbox', radio: 'radio', button: 'button', submit: 'button',
    reset: 'button', image: 'button', range: 'slider', number: 'spinbutton', search: 'searchbox',
    file: 'button'};
  const INTERACTIVE_ROLES = new Set(['button', 'link', 'checkbox', 'radio', 'textbox', 'combobox',
    'listbox', 'option', 'menuitem', 'menuitemcheckbox', 'menuitemradio', 'tab', 'switch',
    'slider', 'searchbox', 'spinbutton', 'treeitem']);
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD', 'META', 'LINK', 'SVG', 'BR', 'HTML', 'BODY']);
  const roleOf = el => {
    const explicit = el.getAttribute('role');
    if (explicit) return explicit.split(' ')[0];
    if (el.tagName === 'INPUT') return INPUT_ROLE[(el.type || 'text').toLowerCase()] || 'textbox';
    if (el.tagName === 'SELECT' && (el.multiple || el.size > 1)) return 'listbox';
    if (el.tagName === 'A' && !el.hasAttribute('href')) return 'generic';
    if (el.isContentEditable && el.getAttribute('contenteditable') !== null) return 'textbox';
    return TAG_ROLE[el.tagName] || 'text';
  };
  const ownText = el => {
    let s = '';
    for (const n of el.childNodes) if (n.nodeType === 3) s += n.textContent;
    return clip(s);
  };
  const nameOf = el => {
    const label = el.getAttribute('aria-label');
    if (label) return clip(label);
    const by = el.getAttribute('aria-labelledby');
    if (by) return clip(by.split(/\s+/).map(id => (document.getElementById(id) || {}).innerText || '').join(' '));
    if (el.labels && el.labels.length) return clip(Array.from(el.labels).map(l => l.innerText).join(' '));
    if (el.tagName === 'INPUT' && ['button', 'submit', 'reset'].includes(el.type)) return clip(el.value);
    if (el.tagName === 'IMG') return clip(el.alt);
    if (['A', 'BUTTON', 'SUMMARY', 'OPTION'].includes(el.tagName) || INTERACTIVE_ROLES.has(el.getAttribute('role') || ''))
      return clip(el.innerText || el.textContent);
    return clip(el.getAttribute('placeholder') || el.getAttribute('title') || '');
  };
  const interactiveOf = (el, role) => {
    if (el.tagName === 'INPUT') return el.type !== 'hidden';
    if (['A', 'BUTTON', 'SELECT', 'TEXTAREA', 'SUMMARY', 'OPTION'].includes(el.tagName)) return role !== 'generic' || el.tagName !== 'A';
    if (INTERACTIVE_ROLES.has(role)) return true;
    if (el.isContentEditable) return true;
    if (el.hasAttribute('onclick') || el.onclick) return true;
    const tab = el.getAttribute('tabindex');
    if (tab !== null && Number(tab) >= 0) return true;
    // Icons wired up from JavaScript (addEventListener leaves no attribute) still show a
    // pointer; cursor is inherited, so only the element that introduces it counts, and a
    // text-less leaf inside it (an icon within a clickable row: a tree's disclosure arrow).
    const cursor = getComputedStyle(el).cursor;
    if (gripOf(el)) return true;
    if (cursor !== 'pointer') return false;
    if (!el.parentElement || getComputedStyle(el.parentElement).cursor !== 'pointer') return true;
    return el.children.length === 0 && !(el.textContent || '').trim();
  };
  // A resize grip shows a resize cursor (a textarea's corner, a resizable box's handles):
  // the side it moves, 'se', 'e' or 's', or '' for none. Only a text-less element that
  // introduces the cursor is a grip, not what it covers.
  const GRIP_SIDE = {'se-resize': 'se', 'nwse-resize': 'se', 'e-resize': 'e', 'ew-resize': 'e',
    'col-resize': 'e', 's-resize': 's', 'ns-resize': 's', 'row-resize': 's'};
  const gripOf = el => {
    const side = GRIP_SIDE[getComputedStyle(el).cursor] || '';
    if (!side || (el.textContent || '').trim() || el.children.length) return '';
    return el.parentElement && getComputedStyle(el.parentElement).cursor === getComputedStyle(el).cursor ? '' : side;
  };
  // A text-less control is named from its id or classes ("trash", "star-toggle"): what a
  // person would infer from the icon is usually what its author called it.
  const nameFromAttrs = el => clip([el.id, ...el.classList].join(' ').replace(/[-_]+/g, ' '));
  // Colours as #rrggbb; null for transparent (nothing painted).
  const hex = css => {
    const m = /rgba?\(([\d.]+),?\s*([\d.]+),?\s*([\d.]+)(?:[,/]\s*([\d.]+%?))?/.exec(css || '');
    if (!m || (m[4] !== undefined && parseFloat(m[4]) === 0)) return null;
    return '#' + [m[1], m[2], m[3]].map(v => Math.round(Number(v)).toString(16).padStart(2, '0')).join('');
  };
  // SVG shapes are observed inside drawings, not icons: an <svg> this small is a glyph.
  const SHAPES = new Set(['circle', 'rect', 'ellipse', 'polygon', 'polyline', 'line', 'path', 'text']);
  const shapeOf = el => {
    const tag = el.tagName.toLowerCase();
    if (tag === 'canvas') return 'canvas';
    if (!SHAPES.has(tag) || !el.ownerSVGElement) return '';
    const r = el.ownerSVGElement.getBoundingClientRect();
    return r.width >= 48 && r.height >= 48 ? tag : '';
  };
  // A point inside a drawn shape, relative to its box, where the box's centre is not inside
  // (a pie's sector, a ring, an L-shaped area): a click there presses this shape and no
  // other. Found on the outline: the midpoint of two points across it that lies in the fill.
  const insidePoint = (el, r) => {
    if (!el.isPointInFill || !el.getScreenCTM || !el.getTotalLength) return null;
    const ctm = el.getScreenCTM();
    if (!ctm) return null;
    const svg = el.ownerSVGElement, inv = ctm.inverse();
    const inFill = (x, y) => {
      const p = svg.createSVGPoint();
      p.x = x; p.y = y;
      return el.isPointInFill(p.matrixTransform(inv));
    };
    if (inFill(r.x + r.width / 2, r.y + r.height / 2)) return null;
    const length = el.getTotalLength(), n = 24;
    if (!(length > 0)) return null;
    const on = i => el.getPointAtLength(length * (i % n) / n).matrixTransform(ctm);
    for (const gap of [n / 2, n / 3, n / 4, n / 6]) {
      for (let i = 0; i < n; i++) {
        const a = on(i), b = on(i + gap), x = (a.x + b.x) / 2, y = (a.y + b.y) / 2;
        if (inFill(x, y)) return [Math.round(x - r.x), Math.round(y - r.y)];
      }
    }
    return null;
  };
  // The text drawn inside a shape is its label (a pie's sector, a map's region): the first
  // SVG text of the same drawing whose centre lies in the shape's fill.
  const labelInside = (el, r) => {
    if (!el.isPointInFill || !el.getScreenCTM || el.tagName.toLowerCase() === 'text') return '';
    const ctm = el.getScreenCTM();
    if (!ctm) return '';
    const svg = el.ownerSVGElement, inv = ctm.inverse();
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBoundingClientRect(), words = clip(t.textContent);
      if (!words || b.width < 3 || b.height < 3) continue;
      const x = b.x + b.width / 2, y = b.y + b.height / 2;
      if (x < r.left || x > r.right || y < r.top || y > r.bottom) continue;
      const p = svg.createSVGPoint();
      p.x = x; p.y = y;
      if (el.isPointInFill(p.matrixTransform(inv))) return words;
    }
    return '';
  };
  // A text-less leaf a person still sees: painted with its own background (a colour
  // swatch), framed on all four sides (a board's cell), or showing an image through CSS.
  // Returns its colour ('' for none), or null when it is not such a box.
  const swatchOf = (el, r) => {
    if (r.width < 6 || r.height < 6 || r.width > 400 || r.height > 400) return null;
    if (['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON', 'IMG'].includes(el.tagName) && !imageName(el)) return null;
    if ((el.innerText || '').trim() || el.children.length > 0) return null;
    const cs = getComputedStyle(el);
    const color = hex(cs.backgroundColor);
    if (color) return color;
    const framed = ['Top', 'Right', 'Bottom', 'Left'].every(
      side => parseFloat(cs['border' + side + 'Width']) > 0 && cs['border' + side + 'Style'] !== 'none');
    return framed || imageName(el) ? '' : null;
  };
  // What an image without alt text shows, as far as its file name says ("x.png" -> "x").
  const imageName = el => {
    const src = el.tagName === 'IMG' ? el.getAttribute('src') || '' : (/url\("?([^")]*)"?\)/.exec(getComputedStyle(el).content) || [])[1] || '';
    const base = src.split(/[?#]/)[0].split('/').pop() || '';
    return clip(base.replace(/\.[a-z0-9]+$/i, '').replace(/[-_]+/g, ' '));
  };
  const stylesOf = (el, root) => {
    const cs = getComputedStyle(el), base = getComputedStyle(root), out = [];
    if (Number(cs.fontWeight) >= 600 && Number(base.fontWeight) < 600) out.push('bold');
    if (cs.fontStyle === 'italic' && base.fontStyle !== 'italic') out.push('italic');
    if (cs.textDecorationLine.includes('underline')) out.push('underline');
    if (cs.textDecorationLine.includes('line-through')) out.push('strike');
    if (cs.color !== base.color && hex(cs.color)) out.push('color:' + hex(cs.color));
    return out;
  };
  const bounds = el => {
    const num = v => (v === null || v === '' || isNaN(Number(v))) ? null : Number(v);
    if (el.tagName === 'INPUT' && ['range', 'number'].includes(el.type)) {
      const range = el.type === 'range';
      return [num(el.getAttribute('min')) ?? (range ? 0 : null),
        num(el.getAttribute('max')) ?? (range ? 100 : null),
        el.getAttribute('step') === 'any' ? null : (num(el.getAttribute('step')) ?? 1)];
    }
    return [num(el.getAttribute('aria-valuemin')), num(el.getAttribute('aria-valuemax')), null];
  };
  const vw = window.innerWidth, vh = window.innerHeight;
  const out = [];
  let shapes = 0, shapesOmitted = 0;
  const all = document.body ? document.body.querySelectorAll('*') : [];
  for (const el of all) {
    if (out.length >= maxRaw) break;
    if (SKIP.has(el.tagName.toUpperCase())) continue;
    if (el.tagName === 'OPTION' && el.parentElement && el.parentElement.tagName === 'SELECT' && !el.parentElement.multiple) continue;
    let shape = shapeOf(el);
    // A chart of thousands of paths must not crowd out the page: past maxShapes, shapes
    // are counted (the observation's `omitted` says how many), not listed.
    if (shape && shape !== 'canvas' && ++shapes > maxShapes) {
      shapesOmitted++;
      continue;
    }
    const role = shape ? (shape === 'canvas' ? 'img' : 'graphic') : roleOf(el);
    const interactive = interactiveOf(el, role);
    const text = interactive && !shape ? clip(el.innerText || '') : ownText(el);
    const r = el.getBoundingClientRect();
    const swatch = shape || text ? null : swatchOf(el, r);
    if (!interactive && !text && !shape && swatch === null) continue;
    // Folded into a point (a closed pie menu's labels, text scaled to nothing): not seen.
    let visible = r.width > 0 && r.height > 0 && (r.width >= 3 || r.height >= 3), offstage = false;
    if (visible && el.checkVisibility) visible = el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
    // A shape whose centre lies outside its drawing is clipped away (an SVG hides its
    // overflow unless told otherwise): not seen, like something scrolled out of a box.
    if (visible && shape && shape !== 'canvas' && getComputedStyle(el.ownerSVGElement).overflow !== 'visible') {
      const d = el.ownerSVGElement.getBoundingClientRect(), cx = r.x + r.width / 2, cy = r.y + r.height / 2;
      visible = cx >= d.left && cx <= d.right && cy >= d.top && cy <= d.bottom;
      // Still listed, without a box: what is about to come on stage (a target that will
      // move into the drawing) can be named before it is in sight.
      if (!visible) offstage = true;
    }
    if (!el.hasAttribute(ATTR)) el.setAttribute(ATTR, String(window.__mhNextId++));
    const item = {
      id: Number(el.getAttribute(ATTR)), role, tag: el.tagName.toLowerCase(), name: nameOf(el),
      text: text, interactive, visible,
      in_viewport: visible && r.bottom > 0 && r.right > 0 && r.top < vh && r.left < vw,
      box: visible ? [r.x, r.y, r.width, r.height] : null,
      disabled: !!el.disabled || el.getAttribute('aria-disabled') === 'true',
    };
    if (offstage) item.offstage = true;
    // Not for form fields: their name is their label, and a planner reads the text beside
    // an unlabelled field ("Verify password") better than its id ("verify").
    const fromAttrs = interactive && !item.name && !text && !['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName);
    if (fromAttrs) item.name = gripOf(el) ? 'resize grip ' + gripOf(el) : nameFromAttrs(el);
    if (item.name === item.text) item.text = '';
    if (shape) {
      item.shape = shape;
      const fill = shape === 'canvas' ? null : hex(getComputedStyle(el).fill);
      if (fill) item.color = fill;
      if (visible && shape !== 'canvas' && fill) {
        const point = insidePoint(el, r);
        if (point) item.point = point;
        // What is written on a shape names it better than its author's id for it.
        const label = (item.name && !fromAttrs) || item.text ? '' : labelInside(el, r);
        if (label) item.name = label;
      }
    } else if (swatch !== null) {
      item.shape = 'box';
      if (swatch) item.color = swatch;
      if (!item.name) item.name = imageName(el);
    }
    const editor = el.isContentEditable ? el.closest('[contenteditable=""], [contenteditable="true"]') : null;
    if (editor && editor !== el && text) item.styles = stylesOf(el, editor);
    const [lo, hi, step] = bounds(el);
    if (lo !== null) item.value_min = lo;
    if (hi !== null) item.value_max = hi;
    if (step !== null) item.value_step = step;
    const now = el.getAttribute('aria-valuenow');
    if (now !== null && !['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) item.value = clip(el.getAttribute('aria-valuetext') || now);
    if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') {
      if (['checkbox', 'radio'].includes(el.type)) item.checked = el.checked;
      else if (el.type === 'password') item.value = el.value ? '••••' : '';
      else if (el.type !== 'file') {
        item.value = clipValue(el.value);
        const end = valueEnd(el.value);
        if (end) item.value_end = end;
      }
    } else if (el.tagName === 'SELECT') {
      item.text = '';
      item.options = Array.from(el.options).map(o => clip(o.label || o.text));
      item.value = Array.from(el.selectedOptions).map(o => clip(o.label || o.text)).join(', ');
    } else if (el.isContentEditable && role === 'textbox') {
      item.value = clip(el.innerText);
    }
    if (el.tagName === 'OPTION') item.selected = el.selected;
    const ariaChecked = el.getAttribute('aria-checked');
    if (ariaChecked !== null) item.checked = ariaChecked === 'true';
    const ariaSelected = el.getAttribute('aria-selected');
    if (ariaSelected !== null) item.selected = ariaSelected === 'true';
    const expanded = el.getAttribute('aria-expanded');
    if (expanded !== null) item.expanded = expanded === 'true';
    else if (el.tagName === 'DETAILS') item.expanded = el.open;
    out.push(item);
  }
  // What is highlighted: the document's selection, or the selected part of a focused field.
  let selection = (window.getSelection() || '').toString();
  const focused = document.activeElement;
  if (!selection && focused && ['INPUT', 'TEXTAREA'].includes(focused.tagName) && focused.selectionStart !== null
      && focused.type !== 'password')
    selection = focused.value.slice(focused.selectionStart, focused.selectionEnd);
  return {url: location.href, title: wellFormed(document.title || ''), elements: out, selection: clip(selection),
    shapes_omitted: shapesOmitted};
}
