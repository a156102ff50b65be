// The demo shop's own script: a cart in localStorage, and two Parley calls a merchant
// would make — telling the chat which product is on screen, and opening it from a link.
(function () {
  var KEY = 'trailhead-cart';
  function cart() {
    try { return JSON.parse(localStorage.getItem(KEY) || '[]'); } catch (e) { return []; }
  }
  function render() {
    var items = cart();
    var count = document.getElementById('cart-count');
    if (count) count.textContent = String(items.length);
    var list = document.getElementById('cart-items');
    if (list) {
      list.textContent = '';
      items.forEach(function (item) {
        var li = document.createElement('li');
        li.textContent = item.title + ' — size ' + item.size + ' — ' + item.price;
        list.appendChild(li);
      });
      document.getElementById('cart-empty').hidden = items.length > 0;
      document.getElementById('checkout').disabled = items.length === 0;
    }
  }
  var product = document.querySelector('.product');
  if (product) {
    var card = {
      id: product.dataset.productId,
      title: product.dataset.title,
      price: product.dataset.price,
      url: location.href,
      imageUrl: new URL(product.dataset.image, location.href).href,
    };
    Parley('product', card);
    document.getElementById('add-to-cart').addEventListener('click', function () {
      var items = cart();
      items.push({ title: card.title, price: card.price, size: document.getElementById('size').value });
      localStorage.setItem(KEY, JSON.stringify(items));
      document.getElementById('added').hidden = false;
      render();
    });
  }
  document.getElementById('chat-link').addEventListener('click', function (e) {
    e.preventDefault();
    Parley('open');
  });
  render();
})();
