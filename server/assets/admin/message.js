// The refusal pages' one button: reload the whole Jira page (a new signed link) when framed
// by Connect, else this page.
for (const b of document.querySelectorAll('[data-action="reload"]')) {
  b.addEventListener('click', () => {
    const AP = window.AP;
    if (AP && AP.navigator && typeof AP.navigator.reload === 'function') AP.navigator.reload();
    else window.location.reload();
  });
}
const AP = window.AP;
if (AP && AP.theming && typeof AP.theming.initializeTheming === 'function') AP.theming.initializeTheming();
