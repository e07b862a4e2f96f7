// Sends the Deep Linking response on to the LMS without a click. Without JavaScript the
// visible "Weiter zum LMS" button does the same.
document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
  form.submit();
});
