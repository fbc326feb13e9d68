// privlink portal: the little the pages do in the browser beyond htmx.
//
// A field's error (a .field-error the field names in aria-describedby)
// stays true only until the person changes the field: from then on it is
// hidden and the field is no longer marked invalid, until the next check
// by the server says otherwise.
(function () {
  function cleared(e) {
    var f = e.target;
    if (!f || !f.getAttribute || f.getAttribute('aria-invalid') !== 'true') {
      return;
    }
    f.removeAttribute('aria-invalid');
    (f.getAttribute('aria-describedby') || '').split(/\s+/).forEach(function (id) {
      var el = id && document.getElementById(id);
      if (el && el.classList.contains('field-error')) {
        el.hidden = true;
      }
    });
  }
  document.addEventListener('input', cleared, true);
  document.addEventListener('change', cleared, true);
})();
